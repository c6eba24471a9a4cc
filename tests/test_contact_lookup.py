# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Unit tests of the look-up of the contact methods sharing a value (S10,
S15) and of the check of the e-mail addresses (S2)"""
from unittest.mock import patch

from email_validator import EmailUndeliverableError
from sql import Literal

from trytond import backend
from trytond.model.exceptions import ValidationError
from trytond.modules.sale_opportunity_management.tests.common import (
    ModuleDBTestCase)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.tools.email_ import EmailNotValidError
from trytond.transaction import Transaction

MALFORMED = [
    'ventas.example.com',  # no @
    'ventas@@example.com',
    'ventas@norte@example.com',  # two @
    'ven tas@example.com',  # spaces
    'ventas@example .com',
    'ventas@example',  # no dot in the domain
    'ventas@localhost',
    'ventas@example.com.',  # ends with a dot
    'ventas..norte@example.com',
    'ventas@-example.com',
    'ventas@exa_mple.com',
    'Ventas <ventas@example.com>',  # a display name
    'ventas(at)example.com',
    ]
VALID = [
    ('ventas@example.com', 'ventas@example.com'),
    ('Compras@Ejemplo.COM.co', 'compras@ejemplo.com.co'),
    # internationalised domains, kept in Unicode
    ('ventas@peñalara.es', 'ventas@peñalara.es'),
    ('info@café.com.co', 'info@café.com.co'),
    ('gerencia@ÓPTICA-ÑANDÚ.com.co', 'gerencia@óptica-ñandú.com.co'),
    ('ventas@xn--caf-dma.com', 'ventas@café.com'),
    ]


class ContactLookupTestCase(ModuleDBTestCase):
    "Test the contact values shared between prospects"

    def _prospect(self, name, *contacts, **values):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        values['name'] = name
        values['contact_methods'] = [('create', [
                    {'contact_type': t, 'value': v} for t, v in contacts])]
        with Transaction().set_context(_skip_warnings=True):
            prospect, = Prospect.create([values])
        return prospect

    @with_transaction()
    def test_sharing(self):
        "Test the methods sharing compact values, active ones only"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        alfa = self._prospect(
            "Alfa", ('phone', '601 555 0101'), ('mail', 'Alfa@Example.com'))
        beta = self._prospect("Beta", ('mobile', '6015550101'))
        gamma = self._prospect("Gamma", ('mail', 'alfa@example.com'))
        gamma.contact_methods[0].active = False
        gamma.contact_methods[0].save()

        shared = ContactMethod.sharing(
            ['6015550101', 'alfa@example.com', 'unknown', '', None])

        self.assertEqual(dict(shared), {
                '6015550101': [
                    (alfa.id, '601 555 0101'), (beta.id, '6015550101')],
                'alfa@example.com': [(alfa.id, 'Alfa@Example.com')],
                })

    @with_transaction()
    def test_sharing_where(self):
        "Test the condition on the prospect of the methods"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        alfa = self._prospect("Alfa", ('phone', '6015550101'))
        self._prospect("Beta", ('phone', '6015550101'))

        shared = ContactMethod.sharing(
            ['6015550101'],
            where=lambda p: p.name == Literal("Alfa"))

        self.assertEqual(
            dict(shared), {'6015550101': [(alfa.id, '6015550101')]})

    @with_transaction()
    def test_sharing_batched(self):
        "Test the values are looked up by batches"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        prospects = [
            self._prospect("P%s" % i, ('phone', '60155501%02d' % i))
            for i in range(5)]
        with patch.object(backend, 'MAX_QUERY_PARAMS', 2):
            compacts = ContactMethod.compacts_of([p.id for p in prospects])
            shared = ContactMethod.sharing(compacts)

        self.assertEqual(len(compacts), 5)
        self.assertEqual(
            {o for v in shared.values() for o, _ in v},
            {p.id for p in prospects})

    @with_transaction()
    def test_sharing_on_index(self):
        "Test the look-up reads the tables through their indexes"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        ContactMethod = pool.get('prospect.contact_method')
        cursor = Transaction().connection.cursor()
        for where in [
                None, Prospect._duplicate_where, Prospect._do_not_call_where]:
            query = ContactMethod._sharing_query(
                ['6015550101', 'alfa@example.com'], where=where)
            if backend.name == 'postgresql':
                # a scan of the table only if no index may serve
                cursor.execute('SET LOCAL enable_seqscan = off')
                cursor.execute('EXPLAIN ' + str(query), query.params)
                plan = [r[0] for r in cursor]
                scans = [l for l in plan if 'Seq Scan' in l]
            else:
                cursor.execute(
                    'EXPLAIN QUERY PLAN ' + str(query), query.params)
                plan = [r[-1] for r in cursor]
                scans = [l for l in plan if l.startswith('SCAN')]
            with self.subTest(where=where):
                self.assertFalse(scans, '\n'.join(plan))

    @with_transaction()
    def test_compacts_of(self):
        "Test the compact values of the active methods of prospects"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        alfa = self._prospect(
            "Alfa", ('phone', '6015550101'), ('website', 'www.Alfa.co'),
            ('mail', 'old@alfa.co'))
        beta = self._prospect("Beta", ('phone', '601-555-0101'))
        alfa.contact_methods[2].active = False
        alfa.contact_methods[2].save()

        self.assertEqual(
            dict(ContactMethod.compacts_of([alfa.id, beta.id])), {
                '6015550101': {alfa.id, beta.id},
                'www.alfa.co': {alfa.id},
                })

    @with_transaction()
    def test_duplicates(self):
        "Test the duplicates by name and by contact, active prospects only"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        alfa = self._prospect("Alfa S.A.S", ('phone', '6015550101'))
        by_name = self._prospect("ALFA sas")
        by_contact = self._prospect("Beta", ('mobile', '601 555 0101'))
        inactive = self._prospect(
            "Alfa Ltda", ('phone', '6015550101'), active=False)

        duplicates = Prospect._duplicates([alfa, inactive])

        self.assertEqual(duplicates, {
                alfa.id: sorted([by_name.id, by_contact.id]),
                inactive.id: sorted([alfa.id, by_name.id, by_contact.id]),
                })
        self.assertEqual(
            Prospect.find_duplicates('alfa', {'6015550101'}),
            {alfa.id, by_name.id, by_contact.id})

    @with_transaction()
    def test_do_not_call_contacts(self):
        "Test the contacts shared with do-not-call prospects, active or not"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        alfa = self._prospect("Alfa", ('phone', '6015550101'))
        beta = self._prospect("Beta", ('mail', 'beta@example.com'))
        Prospect.mark_do_not_call([alfa, beta])
        beta.active = False
        beta.save()
        self._prospect("Gamma", ('phone', '6015550101'))
        new = self._prospect(
            "Delta", ('phone', '601 555 0101'), ('mail', 'BETA@example.com'),
            ('mail', 'delta@example.com'))

        shared = Prospect._do_not_call_contacts([new.id])

        self.assertEqual(dict(shared), {
                new.id: {'6015550101': alfa, 'beta@example.com': beta},
                })
        self.assertEqual(dict(Prospect._do_not_call_contacts([alfa.id])), {})


class MailTestCase(ModuleDBTestCase):
    "Test the e-mail addresses are checked as party checks them"

    def _prospect(self):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        prospect, = Prospect.create([{'name': "Óptica Alfa"}])
        return prospect

    def _party(self):
        pool = Pool()
        Party = pool.get('party.party')
        party, = Party.create([{'name': "Óptica Alfa"}])
        return party

    def _mail(self, prospect, value):
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        method, = ContactMethod.create([{
                    'prospect': prospect.id,
                    'contact_type': 'mail',
                    'value': value,
                    }])
        return method

    def _party_mail(self, party, value):
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        ContactMechanism.create([{
                    'party': party.id,
                    'type': 'email',
                    'value': value,
                    }])

    @with_transaction()
    def test_malformed(self):
        "Test malformed addresses are refused, naming value and prospect"
        prospect = self._prospect()
        for value in MALFORMED:
            with self.subTest(value=value):
                with self.assertRaises(ValidationError) as context:
                    self._mail(prospect, value)
                message = context.exception.message
                self.assertIn('"%s"' % value.strip(), message)
                self.assertIn('"Óptica Alfa"', message)
                # the reason given by the library
                self.assertTrue(context.exception.description)

    @with_transaction()
    def test_valid(self):
        "Test valid addresses, with accents in the domain, are kept"
        prospect = self._prospect()
        for value, compact in VALID:
            with self.subTest(value=value):
                method = self._mail(prospect, value)
                self.assertEqual(method.value, value)
                self.assertEqual(method.value_compact, compact)
                self.assertTrue(method.valid_for_party())

    @with_transaction()
    def test_as_party(self):
        "Test an address is refused exactly when party refuses it"
        prospect = self._prospect()
        party = self._party()
        for value in MALFORMED + [v for v, _ in VALID]:
            with self.subTest(value=value):
                try:
                    self._party_mail(party, value)
                except ValidationError:
                    party_valid = False
                else:
                    party_valid = True
                try:
                    self._mail(prospect, value)
                except ValidationError:
                    valid = False
                else:
                    valid = True
                self.assertEqual(valid, party_valid)

    @with_transaction()
    def test_undeliverable(self):
        """Test an address whose domain does not accept mail is kept on the
        prospect, and given to its party as another contact, which party
        would refuse as an e-mail (outside the tests)"""
        def undeliverable(value):
            raise EmailUndeliverableError(
                "The domain name example.com does not accept email.")
        prospect = self._prospect()
        party = self._party()
        with patch(
                'trytond.modules.sale_opportunity_management.contact_method'
                '.validate_email', undeliverable), \
                patch('trytond.modules.party.contact_mechanism'
                    '.validate_email', undeliverable):
            with self.assertRaises(ValidationError):
                self._party_mail(party, 'ventas@example.com')
            method = self._mail(prospect, 'ventas@example.com')
            self.assertFalse(method.valid_for_party())

    @with_transaction()
    def test_validate_mail(self):
        "Test the check is Tryton's validate_email"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        self.assertEqual(
            ContactMethod.validate_mail('Ventas@Peñalara.ES'),
            'Ventas@peñalara.es')
        with self.assertRaises(EmailNotValidError):
            ContactMethod.validate_mail('ventas@peñalara')

    @with_transaction()
    def test_write_malformed(self):
        "Test a phone turned into a malformed address is refused"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        prospect = self._prospect()
        method, = ContactMethod.create([{
                    'prospect': prospect.id,
                    'contact_type': 'phone',
                    'value': '601 555 0101',
                    }])
        with self.assertRaises(ValidationError):
            ContactMethod.write([method], {'contact_type': 'mail'})
