# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
import glob
import os
import unittest
from unittest.mock import patch

from lxml import etree

from trytond import config
from trytond.modules.company.tests import create_company
from trytond.modules.sale_opportunity_management.contact_method import (
    compact_phone, phone_search_values)
from trytond.modules.sale_opportunity_management.prospect import name_key
from trytond.modules.sale_opportunity_management.tests.common import (
    CompanyTestMixin, set_default_country)
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


class NormalisationTestCase(unittest.TestCase):
    "Test the normalisation of phone numbers and names"

    def test_compact_phone_national(self):
        "Test a national number is compacted in E.164 with its country"
        self.assertEqual(
            compact_phone('312 234 2523', 'CO'), '+573122342523')

    def test_compact_phone_international(self):
        "Test an international number needs no country"
        self.assertEqual(
            compact_phone('+57 (312) 234-2523'), '+573122342523')

    def test_compact_phone_invalid(self):
        "Test an unrecognised number is compacted to its digits"
        self.assertEqual(compact_phone('31223425234', 'CO'), '31223425234')
        self.assertEqual(compact_phone('ext. 12-34'), '1234')

    def test_compact_phone_without_country(self):
        "Test a national number without country keeps its digits"
        self.assertEqual(compact_phone('312 234 2523'), '3122342523')

    def test_phone_search_values(self):
        "Test the forms searched for a typed number"
        self.assertEqual(
            phone_search_values('+57 312 234 2523'),
            {'+573122342523', '3122342523', '573122342523'})

    def test_name_key_legal_forms(self):
        "Test legal forms, case and punctuation are ignored"
        for name in [
                'guchito S.A.S', 'Guchito SAS', 'GUCHITO s.a.s.',
                'Guchito Ltda', 'Guchito, Inc.', 'ООО Guchito']:
            with self.subTest(name=name):
                self.assertEqual(name_key(name), 'guchito')

    def test_name_key_accents_spacing(self):
        "Test accents and spacing are ignored"
        self.assertEqual(
            name_key('Ópticas  del   Valle'), name_key('opticas del valle'))

    def test_name_key_distinct(self):
        "Test different names keep different keys"
        self.assertNotEqual(name_key('Guchito'), name_key('Guchita'))

    def test_name_key_empty(self):
        "Test a name made only of a legal form has no key"
        self.assertIsNone(name_key('S.A.S'))


class SaleOpportunityManagementTestCase(CompanyTestMixin, ModuleTestCase):
    "Test Sale Opportunity Management module"
    module = 'sale_opportunity_management'

    def test_view(self):
        # The views of the bridge to sale_opportunity are loaded only with
        # it (opportunity.xml): test_opportunity.py checks them
        bridge = {'opportunity_form.xml', 'prospect_form_opportunity.xml'}
        all_files = glob.glob

        def without_bridge(*args, **kwargs):
            return [f for f in all_files(*args, **kwargs)
                if os.path.basename(f) not in bridge]
        with patch('glob.glob', without_bridge):
            super().test_view()

    @with_transaction()
    def test_list_columns(self):
        """Test every column of the lists has a widget of the web client's
        lists: sao has none for a date and time, which shows as two columns
        (widgets date and time)"""
        pool = Pool()
        View = pool.get('ir.ui.view')
        # Sao.View.TreeXMLViewParser.WIDGETS of sao 8.0
        widgets = {
            'binary', 'boolean', 'callto', 'char', 'date', 'dict', 'email',
            'float', 'image', 'integer', 'many2many', 'many2one', 'numeric',
            'one2many', 'one2one', 'progressbar', 'reference', 'selection',
            'multiselection', 'sip', 'text', 'time', 'timedelta', 'url'}
        for view in View.search([
                    ('module', '=', self.module),
                    ('type', '=', 'tree'),
                    ]):
            Model = pool.get(view.model)
            result = Model.fields_view_get(view.id, 'tree')
            for node in etree.fromstring(result['arch']).iter('field'):
                name = node.get('name')
                widget = node.get('widget') or result['fields'][name]['type']
                with self.subTest(view=view.name, field=name):
                    self.assertIn(widget, widgets)

    def _prospect(self, **values):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        values.setdefault('name', "Test")
        prospect, = Prospect.create([values])
        return prospect

    @with_transaction()
    def test_contact_method_mail_normalised(self):
        "Test a mail address is kept and compacted in lower case"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        prospect = self._prospect()
        method, = ContactMethod.create([{
                    'prospect': prospect.id,
                    'contact_type': 'mail',
                    'value': 'Ventas@Example.COM',
                    }])
        self.assertEqual(method.value, 'Ventas@Example.COM')
        self.assertEqual(method.value_compact, 'ventas@example.com')
        self.assertEqual(method.url, 'mailto:Ventas@Example.COM')

    @with_transaction()
    def test_contact_method_mail_invalid(self):
        "Test an invalid mail address is refused naming value and prospect"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        prospect = self._prospect()
        with self.assertRaises(Exception) as context:
            ContactMethod.create([{
                        'prospect': prospect.id,
                        'contact_type': 'mail',
                        'value': 'ventas.example.com',
                        }])
        self.assertIn('ventas.example.com', str(context.exception))
        self.assertIn('Test', str(context.exception))

    @with_transaction()
    def test_contact_method_phone_formatted(self):
        "Test a valid phone number is formatted with the default country"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        set_default_country()
        prospect = self._prospect()
        method, whatsapp, invalid = ContactMethod.create([{
                    'prospect': prospect.id,
                    'contact_type': 'mobile',
                    'value': '3122342523',
                    }, {
                    'prospect': prospect.id,
                    'contact_type': 'whatsapp',
                    'value': '312-234-2523',
                    }, {
                    'prospect': prospect.id,
                    'contact_type': 'phone',
                    'value': '12 34',
                    }])
        self.assertEqual(method.value, '+57 312 2342523')
        self.assertEqual(method.value_compact, '+573122342523')
        self.assertEqual(method.url, 'tel:+573122342523')
        self.assertFalse(method.invalid_phone)
        self.assertEqual(whatsapp.url, 'https://wa.me/573122342523')
        self.assertEqual(invalid.value, '12 34')
        self.assertEqual(invalid.value_compact, '1234')
        self.assertTrue(invalid.invalid_phone)

    @with_transaction()
    def test_prospect_search_phone(self):
        "Test prospects are found by a phone number in another format"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        prospect = self._prospect(contact_methods=[('create', [{
                            'contact_type': 'mobile',
                            'value': '3122342523',
                            }])])
        self._prospect(name="Other")
        for value in ['+57 312 234 2523', '312 234 2523', '%3122342523%']:
            with self.subTest(value=value):
                self.assertEqual(
                    Prospect.search([('rec_name', 'ilike', value)]),
                    [prospect])

    @with_transaction()
    def test_prospect_search_text(self):
        "Test prospects are found by a part of their name or contact value"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        ContactMethod = pool.get('prospect.contact_method')
        valle = self._prospect(name="Optica del Valle", contact_methods=[
                ('create', [{'contact_type': 'mail',
                            'value': 'ventas@lentes.example.com'}])])
        cali = self._prospect(name="Brigadas Cali", contact_methods=[
                ('create', [{'contact_type': 'mail',
                            'value': 'old@valle.example.com'}])])
        # The prospects with a contact of the text are few, or many
        threshold = config.get('database', 'subquery_threshold')
        self.addCleanup(
            config.set, 'database', 'subquery_threshold', threshold)
        for few in ['1000', '0']:
            config.set('database', 'subquery_threshold', few)
            for text, found in [
                    ('%valle%', [valle, cali]),
                    ('%lentes%', [valle]),
                    ('%cali%', [cali]),
                    ('%nowhere%', []),
                    ]:
                with self.subTest(few=few, text=text):
                    self.assertEqual(
                        Prospect.search([('rec_name', 'ilike', text)],
                            order=[('id', 'ASC')]), found)

        # Inactive contact methods are not searched, inactive prospects only
        # when asked for
        ContactMethod.write(list(cali.contact_methods), {'active': False})
        self.assertEqual(
            Prospect.search([('rec_name', 'ilike', '%valle%')]), [valle])
        Prospect.write([valle], {'active': False})
        self.assertEqual(
            Prospect.search([('rec_name', 'ilike', '%lentes%')]), [])
        with Transaction().set_context(active_test=False):
            self.assertEqual(
                Prospect.search([('rec_name', 'ilike', '%lentes%')]),
                [valle])

    @with_transaction()
    def test_email_template_recipients(self):
        "Test the shipped e-mail template writes to the prospect's mails"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Template = pool.get('ir.email.template')
        template = Template(ModelData.get_id(
                'sale_opportunity_management', 'email_template_prospect'))
        prospect = self._prospect(name="Ópticas Sol", contact_methods=[
                ('create', [{
                            'contact_type': 'mobile',
                            'value': '+57 312 234 2523',
                            }, {
                            'contact_type': 'mail',
                            'value': 'compras@example.com',
                            'name': "Ana Ruiz",
                            }]),
                ])
        values = template.get(prospect)
        self.assertEqual(values['to'], ['Ana Ruiz <compras@example.com>'])
        self.assertEqual(values['subject'], "Information for Ópticas Sol")

    @with_transaction()
    def test_prospect_state_follows_operator(self):
        "Test the state of a prospect follows its operator"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        User = pool.get('res.user')
        user, = User.search([('login', '=', 'admin')])
        prospect = self._prospect()
        self.assertEqual(prospect.state, 'unassigned')
        Prospect.write([prospect], {'assigned_operator': user.id})
        self.assertEqual(prospect.state, 'assigned')
        Prospect.write([prospect], {'assigned_operator': None})
        self.assertEqual(prospect.state, 'unassigned')

    @with_transaction()
    def test_trace_operator(self):
        "Test a trace keeps the operator assigned to its prospect"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        User = pool.get('res.user')
        ana, luis = User.create([{'login': 'ana'}, {'login': 'luis'}])
        prospect = self._prospect()
        other = self._prospect(name="Other")
        Prospect.write([prospect], {'assigned_operator': ana.id})
        trace, = Trace.create([{'prospect': prospect.id}])
        self.assertEqual(trace.operator, ana)

        Prospect.write([prospect], {'assigned_operator': luis.id})
        self.assertEqual(Trace(trace.id).operator, luis)
        self.assertEqual(Trace.search([('operator', '=', luis.id)]), [trace])

        Trace.move_to_prospect([trace], other)
        self.assertIsNone(Trace(trace.id).operator)

    @with_transaction()
    def test_trace_call_summary(self):
        "Test the call summary of traces is computed from their calls"
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        Date = pool.get('ir.date')
        today = Date.today()
        prospect = self._prospect()
        trace, empty = Trace.create([
                {'prospect': prospect.id},
                {'prospect': self._prospect(name="Empty").id},
                ])
        # The latest call by date wins over the one created last
        Call.create([
                {'prospect_trace': trace.id, 'interest': '3',
                    'date': today},
                {'prospect_trace': trace.id, 'interest': '1',
                    'date': today - dt.timedelta(days=1)},
                ])
        trace, empty = Trace.browse([trace.id, empty.id])
        self.assertEqual(trace.call_count, 2)
        self.assertEqual(trace.last_call_date, today)
        self.assertEqual(trace.current_interest, '3')
        self.assertEqual(empty.call_count, 0)
        self.assertIsNone(empty.current_interest)
        self.assertEqual(
            Trace.search([('current_interest', '=', None)]), [empty])
        self.assertEqual(
            Trace.search([('current_interest', '!=', None)]), [trace])
        self.assertEqual(
            Trace.search([('current_interest', 'in', [None, '3'])],
                order=[('id', 'ASC')]), [trace, empty])
        self.assertEqual(
            Trace.search([('current_interest', 'in', [None, '1'])]), [empty])
        self.assertEqual(
            Trace.search([('current_interest', 'not in', [None, '1'])]),
            [trace])
        self.assertEqual(
            Trace.search([('current_interest', 'not in', [None, '3'])]), [])

        # The traces keep the count and last date of the calls changed,
        # moved and deleted
        self.assertEqual(
            (trace.call_count_cache, trace.last_call_date_cache), (2, today))
        latest, earlier = Call.search([('prospect_trace', '=', trace.id)])
        Call.write([latest], {'date': today - dt.timedelta(days=2)})
        self.assertEqual(
            Trace(trace.id).last_call_date_cache,
            today - dt.timedelta(days=1))
        Call.write([latest], {'prospect_trace': empty.id})
        self.assertEqual(Trace.search([('current_interest', '=', None)]), [])
        self.assertEqual(
            [(t.call_count_cache, t.last_call_date_cache)
                for t in Trace.browse([trace.id, empty.id])],
            [(1, today - dt.timedelta(days=1)),
                (1, today - dt.timedelta(days=2))])
        Call.delete([earlier])
        self.assertEqual(
            Trace.search([('current_interest', '=', None)]), [trace])
        self.assertEqual(
            (Trace(trace.id).call_count_cache,
                Trace(trace.id).last_call_date_cache), (0, None))

    @with_transaction()
    def test_call_following_dates(self):
        """Test each call keeps the date of the call after it on its trace,
        by date and id, as calls are logged, changed, moved, copied and
        deleted"""
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        call = Call.__table__()
        cursor = Transaction().connection.cursor()
        day = [dt.date(2026, 11, 10) + dt.timedelta(days=n) for n in range(4)]

        def following():
            cursor.execute(*call.select(call.id, call.following_date_cache))
            return {i: dt.date.fromisoformat(d) if isinstance(d, str) else d
                for i, d in cursor}
        trace, other = Trace.create([
                {'prospect': self._prospect().id},
                {'prospect': self._prospect(name="Other").id},
                ])
        a, b, c = Call.create([
                {'prospect_trace': trace.id, 'interest': '0', 'date': day[1]},
                {'prospect_trace': trace.id, 'interest': '2', 'date': day[3]},
                {'prospect_trace': trace.id, 'interest': '1', 'date': day[1]},
                ])
        d, = Call.create([
                {'prospect_trace': trace.id, 'interest': '3', 'date': day[2]},
                ])
        self.assertEqual(following(),
            {a.id: day[1], c.id: day[2], d.id: day[3], b.id: None})
        Call.write([b], {'date': day[0]})
        self.assertEqual(following(),
            {b.id: day[1], a.id: day[1], c.id: day[2], d.id: None})
        Call.write([c], {'prospect_trace': other.id})
        self.assertEqual(following(),
            {b.id: day[1], a.id: day[2], d.id: None, c.id: None})
        Call.delete([a])
        copy, = Call.copy([d])
        self.assertEqual(following(),
            {b.id: day[2], d.id: day[2], copy.id: None, c.id: None})

    @with_transaction()
    def test_call_type_deduced(self):
        "Test the first call of a trace is a first call, the others not"
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        trace, other = Trace.create([
                {'prospect': self._prospect().id},
                {'prospect': self._prospect(name="Other").id},
                ])
        calls = Call.create([
                {'prospect_trace': trace.id, 'interest': '0'},
                {'prospect_trace': trace.id, 'interest': '2'},
                {'prospect_trace': other.id, 'interest': '1',
                    'call_type': 'followup_call'},
                ])
        later, = Call.create([{'prospect_trace': other.id, 'interest': '3'}])
        self.assertEqual(
            [c.call_type for c in calls + [later]],
            ['first_call', 'followup_call', 'followup_call', 'followup_call'])

    @with_transaction()
    def test_contact_method_type_guessed(self):
        "Test the type proposed follows the value typed"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        set_default_country()
        for value, contact_type in [
                ('compras@example.com', 'mail'),
                ('www.example.com', 'website'),
                ('601 555 0002', 'phone'),
                ('300 123 4567', 'mobile'),
                ('ext. 104', 'mobile'),
                ]:
            with self.subTest(value=value):
                method = ContactMethod(
                    contact_type=ContactMethod.default_contact_type(),
                    value=value)
                method.on_change_value()
                self.assertEqual(method.contact_type, contact_type)
        method = ContactMethod(contact_type='whatsapp', value='601 555 0002')
        method.on_change_value()
        self.assertEqual(method.contact_type, 'whatsapp')

    @with_transaction()
    def test_prospect_phone_next_call(self):
        "Test the phone and the next call of prospects in lists"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        BusinessUnit = pool.get('sale.business_unit')
        later = dt.datetime(2030, 1, 2, 10, 0)
        sooner = dt.datetime(2030, 1, 1, 10, 0)
        prospect = self._prospect(contact_methods=[('create', [{
                            'contact_type': 'mail',
                            'value': 'compras@example.com',
                            'sequence': 1,
                            }, {
                            'contact_type': 'phone',
                            'value': '+57 601 555 0002',
                            'sequence': 3,
                            }, {
                            'contact_type': 'mobile',
                            'value': '+57 300 123 4567',
                            'sequence': 2,
                            }])])
        other = self._prospect(name="Other")
        units = BusinessUnit.search([], limit=2)
        Trace.create([
                {'prospect': prospect.id, 'business_unit': units[0].id,
                    'next_call': later},
                {'prospect': prospect.id, 'business_unit': units[1].id,
                    'next_call': sooner},
                {'prospect': other.id, 'next_call': later,
                    'state': 'closed'},
                ])
        prospect, other = Prospect.browse([prospect.id, other.id])
        self.assertEqual(prospect.phone, '+57 300 1234567')
        self.assertIsNone(other.phone)
        self.assertEqual(prospect.next_call, sooner)
        self.assertIsNone(other.next_call)
        self.assertEqual(
            Prospect.search([('phone', 'ilike', '%555%')]), [prospect])
        self.assertEqual(
            Prospect.search([], order=[('next_call', 'ASC NULLS LAST')]),
            [prospect, other])

    @with_transaction()
    def test_duplicate_names_typed(self):
        "Test the possible duplicates are named as the prospect is typed"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        ContactMethod = pool.get('prospect.contact_method')
        self._prospect(name="Óptica Sol", contact_methods=[('create', [{
                            'contact_type': 'mobile',
                            'value': '+57 300 123 4567',
                            }])])
        prospect = Prospect(name="OPTICA SOL S.A.S", contact_methods=[])
        self.assertEqual(
            prospect.on_change_with_duplicate_names(), "Óptica Sol")
        prospect = Prospect(name="Lunas", contact_methods=[
                ContactMethod(contact_type='mobile', value='+573001234567')])
        self.assertEqual(
            prospect.on_change_with_duplicate_names(), "Óptica Sol")
        prospect = Prospect(name="Lunas", contact_methods=[])
        self.assertIsNone(prospect.on_change_with_duplicate_names())

    @with_transaction()
    def test_calling_slot(self):
        "Test the next calling slot of a datetime, in UTC without company"
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        config = Configuration(1)
        wednesday = dt.date(2026, 12, 2)

        def at(days, hour, minute=0):
            return dt.datetime.combine(
                wednesday + dt.timedelta(days=days), dt.time(hour, minute))
        for when, slot in [
                (at(0, 10), at(0, 10)),
                (at(0, 7, 59), at(0, 8)),
                (at(0, 17, 59), at(0, 17, 59)),
                (at(0, 18), at(1, 8)),
                (at(2, 19), at(5, 8)),
                (at(3, 10), at(5, 8)),
                (at(4, 7), at(5, 8)),
                ]:
            with self.subTest(when=when):
                self.assertEqual(config.next_calling_slot(when), slot)
                self.assertEqual(config.in_calling_hours(when), when == slot)

    @with_transaction()
    def test_calling_slot_days(self):
        "Test the calling days and hours configured"
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        config, = Configuration.create([{
                    'call_start': dt.time(9, 30),
                    'call_end': dt.time(13, 0),
                    'call_days': ['2', '5'],
                    }])
        wednesday = dt.datetime(2026, 12, 2, 13, 0)
        self.assertEqual(
            config.next_calling_slot(wednesday),
            dt.datetime(2026, 12, 5, 9, 30))
        self.assertEqual(
            config.next_calling_slot(wednesday - dt.timedelta(hours=4)),
            dt.datetime(2026, 12, 2, 9, 30))

    @with_transaction()
    def test_calling_slot_timezone(self):
        "Test the calling hours are those of the company's timezone"
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        Company = pool.get('company.company')
        company = create_company()
        Company.write([company], {'timezone': 'America/Bogota'})
        config = Configuration(1)
        # 7:00 in Bogotá, 5 hours behind UTC
        when = dt.datetime(2026, 12, 2, 12, 0)
        self.assertFalse(config.in_calling_hours(when, company))
        self.assertTrue(config.in_calling_hours(when))
        self.assertEqual(
            config.next_calling_slot(when, company),
            dt.datetime(2026, 12, 2, 13, 0))
        # Friday 22:00 in Bogotá is Saturday in UTC
        self.assertEqual(
            config.next_calling_slot(dt.datetime(2026, 12, 5, 3, 0), company),
            dt.datetime(2026, 12, 7, 13, 0))

    @with_transaction()
    def test_preset_next_call(self):
        "Test the preset next calls land in the calling hours"
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        config = Configuration(1)
        wednesday = dt.datetime(2026, 12, 2, 10, 0, 25)
        friday = dt.datetime(2026, 12, 4, 17, 0)
        monday = dt.datetime(2026, 12, 7, 8, 0)
        for now, preset, expected in [
                (wednesday, 'in_two_hours', dt.datetime(2026, 12, 2, 12, 0)),
                (wednesday, 'tomorrow_morning', dt.datetime(2026, 12, 3, 8)),
                (wednesday, 'tomorrow_afternoon',
                    dt.datetime(2026, 12, 3, 14)),
                (wednesday, 'next_week', dt.datetime(2026, 12, 9, 10, 0)),
                (friday, 'in_two_hours', monday),
                (friday, 'tomorrow_morning', monday),
                (friday, 'tomorrow_afternoon', monday),
                (friday, 'next_week', dt.datetime(2026, 12, 11, 17, 0)),
                ]:
            with self.subTest(now=now, preset=preset):
                self.assertEqual(
                    config.preset_next_call(preset, now), expected)

    @with_transaction()
    def test_report_actions_filters(self):
        "Test the filters the report actions show are those of the context"
        pool = Pool()
        Action = pool.get('ir.action.act_window')
        Context = pool.get('sale.call.report.context')
        actions = Action.search([
                ('context_model', '=', 'sale.call.report.context'),
                ])
        self.assertEqual(len(actions), 9)
        for action in actions:
            with self.subTest(action=action.name):
                filters = PYSONDecoder().decode(action.pyson_context).get(
                    'report_filters', list(Context._fields))
                self.assertLessEqual(set(filters), set(Context._fields))
                self.assertTrue(filters)


del ModuleTestCase
