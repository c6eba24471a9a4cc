# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.sale_opportunity_management.tests.common import (
    ModuleDBTestCase, create_user)
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access

REPORTS = [
    'sale.call.report.operator',
    'sale.call.report.operator.timeseries',
    'sale.prospect_trace.report.interest',
    'sale.prospect_trace.report.pending',
    'sale.prospect.report.assignment',
    'sale.call.report.high_interest',
    'sale.prospect.report.funnel',
    ]


class ReportTestCase(ModuleDBTestCase):
    "Test the reports"

    def _operator(self, login):
        return create_user(
            login, 'group_prospect_operator', name=login.title())

    def _called_prospect(self, operator, interests, name=None):
        "Return the trace of a prospect of the operator called with interests"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        prospect, = Prospect.create([{
                    'name': name or "Optics of %s" % operator.name,
                    'assigned_operator': operator.id,
                    }])
        trace, = Trace.create([{'prospect': prospect.id}])
        with Transaction().set_user(operator.id):
            Call.create([
                    {'prospect_trace': trace.id, 'interest': i}
                    for i in interests])
        return trace

    def _read_as(self, user, name):
        "Read the rows of the report as the client does, as the user"
        Report = Pool().get(name)
        fields_names = []
        for fname in Report.fields_view_get(view_type='tree')['fields']:
            fields_names.append(fname)
            if Report._fields[fname]._type == 'many2one':
                fields_names.append(fname + '.rec_name')
        with Transaction().set_user(user.id), check_access():
            rows = Report.search([])
            return Report.read([r.id for r in rows], fields_names)

    @with_transaction()
    def test_calls_per_operator(self):
        "Test the calls per operator, filtered by the context"
        pool = Pool()
        User = pool.get('res.user')
        Call = pool.get('sale.call')
        Report = pool.get('sale.call.report.operator')
        operator = self._operator('operator')
        trace = self._called_prospect(operator, ['0', '3', '2'])
        names = ['operator', 'business_unit', 'calls', 'answered', 'missed',
            'interest_3', 'first_calls', 'answer_rate']
        rows = Report.search_read([], fields_names=list(names))
        self.assertEqual(
            [[r[n] for n in names] for r in rows],
            [[operator.id, None, 3, 2, 1, 1, 1, 2 / 3]])
        # a domain of subqueries makes Tryton search a union of ids
        self.assertEqual(Report.search_read(['OR',
                    ('operator.login', '=', 'operator'),
                    ('business_unit.name', '=', "None")],
                fields_names=list(names)), rows)

        with Transaction().set_user(operator.id):
            Call.create([{'prospect_trace': trace.id, 'interest': '1',
                        'date': dt.date.today() - dt.timedelta(days=1)}])
        for context, calls in [
                ({}, 4),
                ({'from_date': dt.date.today()}, 3),
                ({'operator': User(Transaction().user).id}, None),
                ]:
            with self.subTest(context=context), \
                    Transaction().set_context(context):
                rows = Report.search_read([], fields_names=['calls'])
                self.assertEqual([r['calls'] for r in rows],
                    [calls] if calls else [])

    @with_transaction()
    def test_reports_read(self):
        "Test each report reads the columns of its list as the client does"
        pool = Pool()
        User = pool.get('res.user')
        operator = self._operator('operator')
        self._called_prospect(operator, ['0', '3'])
        admin = User(Transaction().user)
        for name in REPORTS:
            for user in [admin, operator]:
                with self.subTest(report=name, user=user.login):
                    self.assertTrue(self._read_as(user, name))

    @with_transaction()
    def test_reassigned_prospect_rows(self):
        "Test a former operator no longer sees the reassigned prospect"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        former, current = self._operator('former'), self._operator('current')
        trace = self._called_prospect(former, ['2', '3'])
        rows = self._read_as(former, 'sale.call.report.high_interest')
        self.assertEqual(
            [(r['prospect'], r['current_interest']) for r in rows],
            [(trace.prospect.id, '3')])

        Prospect.write([trace.prospect], {'assigned_operator': current.id})
        for name in REPORTS:
            with self.subTest(report=name):
                # the client reads every column without an access error
                self._read_as(former, name)
                self._read_as(current, name)
        self.assertEqual(
            self._read_as(former, 'sale.call.report.high_interest'), [])
        self.assertEqual(
            self._read_as(current, 'sale.call.report.high_interest'), [])
        # the calls made stay counted for the operator who made them
        row, = self._read_as(former, 'sale.call.report.operator')
        self.assertEqual(
            (row['operator'], row['calls']), (former.id, 2))
        # and the history of the trace goes with the prospect
        row, = self._read_as(current, 'sale.prospect_trace.report.interest')
        self.assertEqual(
            (row['trace'], row['interest_path']), (trace.id, '2 → 3'))

    @with_transaction()
    def test_reassigned_prospect_rows_admin(self):
        "Test the administrators see the calls of the reassigned prospects"
        pool = Pool()
        User = pool.get('res.user')
        Prospect = pool.get('sale.prospect')
        former, current = self._operator('former'), self._operator('current')
        trace = self._called_prospect(former, ['3'])
        Prospect.write([trace.prospect], {'assigned_operator': current.id})
        admin = User(Transaction().user)
        row, = self._read_as(admin, 'sale.call.report.high_interest')
        self.assertEqual(
            (row['operator'], row['prospect'], row['prospect.']['rec_name']),
            (former.id, trace.prospect.id, trace.prospect.rec_name))

    def _open_calls(self, model, ids):
        "Return the domain of the calls the wizard opens"
        OpenCalls = Pool().get('sale.call.report.open_calls', type='wizard')
        with Transaction().set_context(
                active_model=model, active_ids=ids, active_id=ids[0]):
            session_id, _, _ = OpenCalls.create()
            result = OpenCalls.execute(session_id, {}, 'start')
        (action, _), = result['actions']
        return PYSONDecoder().decode(action['pyson_domain'])

    @with_transaction()
    def test_open_calls(self):
        "Test the calls opened from a row are those counted"
        pool = Pool()
        Call = pool.get('sale.call')
        operator, other = self._operator('operator'), self._operator('other')
        trace = self._called_prospect(operator, ['0', '3'])
        self._called_prospect(other, ['1'])
        today = dt.date.today()
        for name, context in [
                ('sale.call.report.operator', {}),
                ('sale.call.report.operator.timeseries', {'period': 'week'}),
                ('sale.call.report.high_interest', {'from_date': today}),
                ]:
            with self.subTest(report=name), \
                    Transaction().set_context(context):
                Report = pool.get(name)
                row, = Report.search([('operator', '=', operator.id)])
                domain = self._open_calls(name, [row.id])
                self.assertEqual(
                    sorted(c.id for c in Call.search(domain)),
                    sorted(c.id for c in trace.calls
                        if name != 'sale.call.report.high_interest'
                        or c.interest == '3'))

    @with_transaction()
    def test_open_calls_other_model(self):
        "Test opening the calls of records other than a call report fails"
        pool = Pool()
        User = pool.get('res.user')
        operator = self._operator('operator')
        trace = self._called_prospect(operator, ['3'])
        for model, ids in [
                ('res.user', [operator.id]),
                ('sale.prospect', [trace.prospect.id]),
                ('sale.prospect_trace.report.interest', [trace.id]),
                ('no.such.model', [1]),
                (None, [1]),
                ]:
            for user in [User(Transaction().user), operator]:
                with self.subTest(model=model, user=user.login), \
                        Transaction().set_user(user.id), \
                        self.assertRaisesRegex(UserError, "not a call report"):
                    self._open_calls(model, ids)

    @with_transaction()
    def test_open_calls_other_rows(self):
        "Test an operator cannot open the calls of another's row"
        pool = Pool()
        Report = pool.get('sale.call.report.operator')
        operator, other = self._operator('operator'), self._operator('other')
        self._called_prospect(other, ['1'])
        row, = Report.search([])
        with Transaction().set_user(operator.id), \
                self.assertRaises(AccessError):
            self._open_calls('sale.call.report.operator', [row.id])

    @with_transaction()
    def test_interest_calls_in_period(self):
        "Test the interest by trace counts only the calls of the period"
        pool = Pool()
        Call = pool.get('sale.call')
        Report = pool.get('sale.prospect_trace.report.interest')
        operator = self._operator('operator')
        trace = self._called_prospect(operator, ['2', '3'])
        today = dt.date.today()
        earlier = today - dt.timedelta(days=40)
        with Transaction().set_user(operator.id):
            Call.create([{'prospect_trace': trace.id, 'interest': '1',
                        'date': earlier}])
        names = ['calls', 'first_interest', 'last_interest', 'max_interest',
            'first_call_date', 'last_call_date', 'interest_path']
        for context, values in [
                ({}, [3, '1', '3', '3', earlier, today, '1 → 2 → 3']),
                ({'from_date': today}, [2, '2', '3', '3', today, today,
                        '2 → 3']),
                ({'to_date': earlier}, [1, '1', '1', '1', earlier, earlier,
                        '1']),
                ]:
            with self.subTest(context=context), \
                    Transaction().set_context(context):
                row, = Report.search_read([], fields_names=list(names))
                self.assertEqual([row[n] for n in names], values)
        with Transaction().set_context(
                from_date=today - dt.timedelta(days=20),
                to_date=today - dt.timedelta(days=1)):
            self.assertEqual(Report.search([]), [])

    @with_transaction()
    def test_interest_latest_first(self):
        "Test the interest by trace lists the latest called first"
        pool = Pool()
        Call = pool.get('sale.call')
        Report = pool.get('sale.prospect_trace.report.interest')
        operator = self._operator('operator')
        today = dt.date.today()
        yesterday = today - dt.timedelta(days=1)
        older = self._called_prospect(operator, ['1'], name="Older")
        newer = self._called_prospect(operator, ['2'], name="Newer")
        call, = older.calls
        Call.write([call], {'date': yesterday})
        self.assertEqual(
            [r.trace for r in Report.search([])], [newer, older])

        # The traces last called before the period are left out, whatever
        # the end of the period
        call, = newer.calls
        Call.write([call], {'date': yesterday - dt.timedelta(days=1)})
        for to_date in [None, today, yesterday]:
            with self.subTest(to_date=to_date), Transaction().set_context(
                    from_date=yesterday, to_date=to_date):
                self.assertEqual(
                    [r.trace for r in Report.search([])], [older])
                self.assertEqual(Report.search_count([]), 1)

    @with_transaction()
    def test_interest_period_ended(self):
        """Test the interest by trace over a period ended before today orders
        the traces by their last call in it, whether or not they were called
        after"""
        pool = Pool()
        Call = pool.get('sale.call')
        Report = pool.get('sale.prospect_trace.report.interest')
        operator = self._operator('operator')
        today = dt.date.today()
        days = [today - dt.timedelta(days=n) for n in range(6)]
        called_after = self._called_prospect(
            operator, ['1'], name="Called After")
        within = self._called_prospect(operator, ['2'], name="Within")
        Call.write(list(within.calls), {'date': days[3]})
        with Transaction().set_user(operator.id):
            Call.create([{'prospect_trace': called_after.id,
                        'interest': '3', 'date': days[4]}])
        with Transaction().set_context(from_date=days[5], to_date=days[1]):
            rows = Report.search_read(
                [], fields_names=['trace', 'calls', 'last_call_date'])
        self.assertEqual(
            [(r['trace'], r['calls'], r['last_call_date']) for r in rows],
            [(within.id, 1, days[3]), (called_after.id, 1, days[4])])

    @with_transaction()
    def test_pending_never_called_due(self):
        "Test the traces never called are due, the do-not-call left out"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Report = pool.get('sale.prospect_trace.report.pending')
        operator = self._operator('operator')
        called = self._called_prospect(operator, ['2'])
        fresh, planned, refused = Prospect.create([{
                    'name': name, 'assigned_operator': operator.id,
                    } for name in ["Fresh", "Planned", "Refused"]])
        next_month = dt.datetime.combine(
            dt.date.today() + dt.timedelta(days=40), dt.time(9))
        Trace.create([
                {'prospect': fresh.id},
                {'prospect': planned.id, 'next_call': next_month},
                {'prospect': refused.id},
                ])
        Prospect.mark_do_not_call([refused])
        Trace.reopen(Trace.search([('prospect', '=', refused.id)]))
        Trace.write([called], {'next_call': next_month})
        names = ['open_traces', 'never_called', 'scheduled', 'due',
            'overdue']
        for context, due in [
                ({'to_date': dt.date.today()}, 1),
                ({'to_date': next_month.date()}, 3),
                ({}, 3),
                ]:
            with self.subTest(context=context), \
                    Transaction().set_context(context):
                row, = Report.search_read([], fields_names=list(names))
                self.assertEqual(
                    [row[n] for n in names], [3, 2, 2, due, 0])

    @with_transaction()
    def test_assignment_operator_name(self):
        "Test the prospects per operator name each bar, unassigned included"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Report = pool.get('sale.prospect.report.assignment')
        operator = self._operator('operator')
        self._called_prospect(operator, ['2'])
        Prospect.create([{'name': "Nobody's"}])
        with Transaction().set_context(language='en'):
            rows = Report.search_read(
                [], fields_names=['operator', 'operator_name', 'prospects'],
                order=[('operator', 'ASC NULLS FIRST')])
        self.assertEqual(
            [(r['operator'], r['operator_name'], r['prospects'])
                for r in rows],
            [(None, "Unassigned", 1), (operator.id, "Operator", 1)])

    @with_transaction()
    def test_no_selection_widget_on_relations(self):
        """Test the report context and the assignment dialogs show no
        relation as a selection: when Enter is pressed in another field,
        the web client redraws the options and reads the first one, which
        changes the value chosen (the report filtered on another business
        unit, the prospects of another unit assigned).  The loss dialog
        keeps its list of reasons: its other field is a text, where Enter
        is a new line."""
        pool = Pool()
        for name in ['sale.call.report.context', 'sale.prospect.assign.start',
                'sale.prospect.reassign.start']:
            Model = pool.get(name)
            view = Model.fields_view_get(view_type='form')
            for fname, field in view['fields'].items():
                with self.subTest(model=name, field=fname):
                    if field['type'] != 'many2one':
                        continue
                    self.assertNotIn(
                        'widget="selection"',
                        ''.join(l for l in view['arch'].splitlines()
                            if 'name="%s"' % fname in l))

    @with_transaction()
    def test_trace_moved_to_prospect(self):
        """Test a trace with calls changes prospect only through
        move_to_prospect (merging prospects), and its rows follow"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Report = pool.get('sale.prospect_trace.report.interest')
        operator = self._operator('operator')
        trace = self._called_prospect(operator, ['2', '3'])
        other = self._called_prospect(operator, ['1'], name="Other")
        # one open trace per prospect and business unit
        Trace.close([other])
        kept, = Prospect.create([{
                    'name': "Kept", 'assigned_operator': operator.id,
                    }])
        contact, = pool.get('prospect.contact_method').create([{
                    'prospect': kept.id, 'value': 'kept@example.com',
                    'contact_type': 'mail',
                    }])
        with self.assertRaisesRegex(UserError, "change the prospect"):
            Trace.write([trace], {'prospect': kept.id})

        Trace.move_to_prospect([trace, other], kept, {trace: contact})
        self.assertEqual(
            [(t.prospect, t.prospect_contact) for t in [trace, other]],
            [(kept, contact), (kept, None)])
        self.assertEqual(
            sorted(r.prospect.id for r in Report.search([])), [kept.id] * 2)
        # the door closes behind the move
        new, = Prospect.create([{'name': "New"}])
        with self.assertRaisesRegex(UserError, "change the prospect"):
            Trace.write([trace], {'prospect': new.id})
