# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Unit tests of the import of prospect lists (S16): what the scenario
cannot reach through a client"""
import unittest
import unittest.mock

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company
from trytond.modules.sale_opportunity_management.contact_method import (
    compact_phone, phone_search_values)
from trytond.modules.sale_opportunity_management.importing import (
    Contact, Importer, decode, header_key, read_table, sniff_delimiter)
from trytond.modules.sale_opportunity_management.tests.common import (
    ModuleDBTestCase, create_user, set_default_country)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


class ReadingTestCase(unittest.TestCase):
    "Test the reading of the files"

    def test_decode(self):
        "Test UTF-8 with and without BOM, Latin-1 and Windows-1252"
        for data in [
                'Razón'.encode('utf-8'),
                b'\xef\xbb\xbf' + 'Razón'.encode('utf-8'),
                'Razón'.encode('latin-1'),
                'Razón'.encode('utf-16')]:
            with self.subTest(data=data):
                self.assertEqual(decode(data), 'Razón')
        self.assertEqual(decode('“Sol”'.encode('cp1252')), '“Sol”')

    def test_sniff_delimiter(self):
        "Test the delimiter is the one giving regular columns"
        self.assertEqual(sniff_delimiter('a;b;c\n1;2,5;3\n'), ';')
        self.assertEqual(sniff_delimiter('a,b,c\n"1;2",2,3\n'), ',')
        self.assertEqual(sniff_delimiter('a\tb\n1\t2\n'), '\t')
        self.assertEqual(sniff_delimiter('name\nSol\n'), ',')

    def test_quoted_line_break(self):
        "Test a quoted line break does not start a record"
        records = list(read_table(
                b'name;address\r\nSol;"Calle 1\r\nLocal 2"\r\nLuna;\r\n'))
        self.assertEqual(records, [
                ['name', 'address'], ['Sol', 'Calle 1\r\nLocal 2'],
                ['Luna', '']])

    def test_header_key(self):
        "Test headers are compared ignoring case, accents and spacing"
        self.assertEqual(
            header_key(' Razón  Social '), header_key('razon social'))
        self.assertEqual(header_key('E-mail'), header_key('email'))

    def test_contact_phone_forms(self):
        """Test a number is compacted and looked up as the module's
        functions do, from one parse"""
        for value in [
                '312 234 2523', '+57 312 234 2523', '(601) 555 1234',
                '573122342523', 'ext. 12', '+1 415 555 0100', '5551234']:
            for country in ['CO', None]:
                with self.subTest(value=value, country=country):
                    contact = Contact('mobile', value, country)
                    self.assertEqual(
                        contact.compact, compact_phone(value, country))
                    self.assertEqual(
                        contact.lookups,
                        phone_search_values(value, country)
                        | {compact_phone(value, country)})


class ImportTestCase(ModuleDBTestCase):
    "Test the import against the database"

    def _import(self, data, **values):
        pool = Pool()
        Import = pool.get('sale.prospect.import')
        import_, = Import.create([dict(values, file=data, filename='t.csv')])
        Import.process([import_])
        return {line.row: line for line in import_.lines}

    @with_transaction()
    def test_do_not_call_rejected(self):
        "Test a row with the number of a do-not-call prospect is rejected"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        set_default_country()
        quiet, = Prospect.create([{
                    'name': "Óptica Silencio",
                    'contact_methods': [('create', [{
                                    'contact_type': 'mobile',
                                    'value': '+57 312 555 0001',
                                    }])],
                    }])
        # As the do-not-call button will (S15), which may deactivate it
        Prospect.write([quiet], {'do_not_call': True, 'active': False})
        lines = self._import(
            'name;mobile;email\n'
            'Otra Óptica;312-555-0001;\n'
            'Óptica Silencio;;silencio@example.com\n'.encode('utf-8'),
            on_duplicate='merge')
        self.assertEqual(lines[1].status, 'rejected')
        self.assertIn('"Óptica Silencio"', lines[1].message)
        self.assertIn('312-555-0001', lines[1].message)
        # The name alone is no contact: an inactive prospect is no
        # duplicate
        self.assertEqual(lines[2].status, 'imported')

    @with_transaction()
    def test_rejection_before_duplicates(self):
        "Test a duplicate row with a malformed address is rejected"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Prospect.create([{'name': "Sol S.A.S"}])
        lines = self._import(
            b'name,email\nSol,sol(at)example.com\n', on_duplicate='merge')
        self.assertEqual(lines[1].status, 'rejected')

    @with_transaction()
    def test_queries_per_batch(self):
        "Test the look-ups do not grow with the rows"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Prospect.create([{'name': "Registrada %d" % i} for i in range(20)])
        header = 'name;phone;email\n'

        def queries(count):
            rows = ''.join(
                'Empresa %d;601 555 %04d;ventas@empresa%d.co\n' % (i, i, i)
                for i in range(count))
            cursor = Transaction().connection.cursor()
            calls = []
            execute = cursor.__class__.execute

            def counting(self, query, *args, **kwargs):
                # SQLite inserts the rows one by one, whatever the module
                if not str(query).lstrip().upper().startswith('INSERT'):
                    calls.append(query)
                return execute(self, query, *args, **kwargs)
            with unittest.mock.patch.object(
                    cursor.__class__, 'execute', counting):
                self._import((header + rows).encode('utf-8'))
            return len(calls)
        few, many = queries(5), queries(100)
        self.assertLess(many, few * 2, (few, many))

    @with_transaction()
    def test_company(self):
        """Test the prospects are created in the company of the import, which
        the registrars of another company do not see"""
        pool = Pool()
        Import = pool.get('sale.prospect.import')
        Line = pool.get('sale.prospect.import.line')
        User = pool.get('res.user')
        company = create_company()
        other = create_company(name="Other Company")
        registrar = create_user('registrar', 'group_prospect_registrar')
        User.write([registrar], {'companies': [('add', [other.id])],
                'company': other.id})
        with Transaction().set_context(company=company.id):
            lines = self._import(b'name\nSol\n')
        line = lines[1]
        self.assertEqual(line.prospect_import.company, company)
        self.assertEqual(line.prospect.company, company)

        with Transaction().set_user(registrar.id), \
                Transaction().set_context(
                    company=other.id, _check_access=True):
            self.assertEqual(Import.search([]), [])
            self.assertEqual(Line.search([]), [])
            with self.assertRaises(AccessError):
                Import.read([line.prospect_import.id], ['filename'])

    @with_transaction()
    def test_importer_units(self):
        "Test business units are found by code or name, in any case"
        pool = Pool()
        Import = pool.get('sale.prospect.import')
        importer = Importer(Import(on_duplicate='skip', business_unit=None))
        self.assertEqual(
            importer.units[header_key('OPTICS')],
            importer.units[header_key('optics')])
