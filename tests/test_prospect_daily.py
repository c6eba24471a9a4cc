# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from sql import Literal
from sql.aggregate import Avg, Count, Sum
from sql.conditionals import Coalesce

from trytond.modules.sale_opportunity_management.prospect_daily import STAGES
from trytond.modules.sale_opportunity_management.tests.common import (
    ModuleDBTestCase, create_user, stored_counts)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

FUNNEL = ['prospects', *(n for n, _ in STAGES), 'conversion',
    'average_days_to_customer']


class ProspectDailyTestCase(ModuleDBTestCase):
    "Test the counts of prospects per day follow the prospects and traces"
    maxDiff = None

    def _stored(self):
        "Return the stored counts per key, the rows of a key added up"
        stored, rows = stored_counts('sale.prospect.daily')
        for _, counts in rows:
            self.assertTrue(any(counts.values()), msg="no row without counts")
        return stored

    def assertCountsExact(self):
        "Assert the stored counts are those rebuild counts"
        ProspectDaily = Pool().get('sale.prospect.daily')
        stored = self._stored()
        ProspectDaily.rebuild()
        self.assertEqual(stored, self._stored())
        self.assertTrue(stored)

    def _setup(self):
        pool = Pool()
        BusinessUnit = pool.get('sale.business_unit')
        ana = create_user('ana', 'group_prospect_operator')
        luis = create_user('luis', 'group_prospect_operator')
        units = BusinessUnit.search([], limit=3)
        return ana, luis, units

    @with_transaction()
    def test_counts(self):
        "Test the counts after each kind of change of prospects and traces"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        ana, luis, (optics, brigades, equipment) = self._setup()

        # created, one with its trace
        prospects = Prospect.create([
                {'name': "Óptica 0", 'assigned_operator': ana.id,
                    'business_unit': optics.id},
                {'name': "Óptica 1", 'assigned_operator': ana.id},
                {'name': "Brigada 2", 'assigned_operator': luis.id,
                    'business_unit': brigades.id},
                {'name': "Nadie 3", 'traces': [('create', [{}])]},
                ])
        traces = Trace.create([
                {'prospect': p.id} for p in prospects[:3]])
        self.assertCountsExact()
        key = (None, dt.date.today(), optics.id, ana.id)
        self.assertEqual(self._stored()[key]['open_traces'], 1)

        # assigned to another operator
        Prospect.reassign(prospects[:2], ana, luis)
        self.assertCountsExact()
        # made customers, one without its customer date
        Prospect.qualify(prospects[:2])
        Prospect.sign_agreement(prospects[:2])
        Prospect.make_customer(prospects[:2])
        Prospect.write(prospects[:1], {
                'customer_date': dt.date.today() + dt.timedelta(days=5)},
            prospects[1:2], {'customer_date': None})
        self.assertCountsExact()
        counts = self._stored()[(None, dt.date.today(), optics.id, luis.id)]
        self.assertEqual(
            (counts['days_to_customer'], counts['dated_customers']), (5, 1))

        # traces closed, reopened, deleted, moved to another prospect
        Trace.close(traces[:2])
        self.assertCountsExact()
        Trace.reopen(traces[:1])
        self.assertCountsExact()
        Trace.delete(traces[1:2])
        self.assertCountsExact()
        Trace.write(traces[2:3], {'prospect': prospects[3].id})
        self.assertCountsExact()

        # changed with its traces, as a form saves them
        Prospect.write(prospects[:1], {
                'business_unit': brigades.id,
                'traces': [('create', [{'business_unit': equipment.id}])],
                })
        self.assertCountsExact()

        # deactivated, then reactivated and renamed: the segments fill its
        # business unit in a write of their own
        self._segment(equipment)
        Prospect.write(prospects[2:3], {'active': False})
        self.assertCountsExact()
        Prospect.write(prospects[2:3], {
                'answers': [('add', [self.answer.id])]})
        Prospect.write(prospects[2:3], {'business_unit': None})
        Prospect.write(prospects[2:3], {'active': True, 'name': "Brigada"})
        self.assertEqual(prospects[2].business_unit, equipment)
        self.assertCountsExact()

        # deleted with its open traces
        Prospect.delete(prospects[3:])
        self.assertCountsExact()

    def _segment(self, business_unit):
        "Create a segment of an answer that fills the business unit"
        pool = Pool()
        Question = pool.get('sale.prospect.question')
        Segment = pool.get('sale.prospect.segment')
        question, = Question.create([{
                    'name': "Equipos",
                    'answers': [('create', [{'name': "Sí"}])],
                    }])
        self.answer, = question.answers
        Segment.create([{
                    'name': "Equipos",
                    'answers': [('add', [self.answer.id])],
                    'business_unit': business_unit.id,
                    }])

    @with_transaction()
    def test_counts_merge_import(self):
        "Test the counts after merging prospects and importing some"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Import = pool.get('sale.prospect.import')
        ana, luis, (optics, brigades, _) = self._setup()
        kept, merged = Prospect.create([
                {'name': "Óptica Sol", 'assigned_operator': ana.id},
                {'name': "Óptica Sol Norte", 'assigned_operator': luis.id,
                    'business_unit': optics.id},
                ])
        Trace.create([
                {'prospect': kept.id, 'business_unit': brigades.id},
                {'prospect': merged.id},
                ])
        Prospect.merge_into([kept, merged], kept)
        self.assertFalse(merged.active)
        self.assertCountsExact()

        import_, = Import.create([{
                    'file': ('name,city\n'
                        'Óptica Luna,Cali\n'
                        'Óptica Sol,Bogotá\n').encode('utf-8'),
                    'filename': 't.csv',
                    'on_duplicate': 'merge',
                    'business_unit': optics.id,
                    }])
        Import.process([import_])
        self.assertEqual(
            {line.status for line in import_.lines}, {'imported', 'merged'})
        self.assertCountsExact()

    @with_transaction()
    def test_reports(self):
        """Test the prospects per operator and the funnel give the rows of
        the prospects"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        ProspectDaily = pool.get('sale.prospect.daily')
        LostReason = pool.get('sale.prospect.lost_reason')
        ana, luis, (optics, brigades, _) = self._setup()
        today = dt.date.today()
        prospects = Prospect.create([
                {'name': "Prospect %s" % i,
                    'assigned_operator': [ana.id, luis.id, None][i % 3],
                    'business_unit': [optics.id, brigades.id][i % 2]}
                for i in range(12)])
        Trace.create([{'prospect': p.id} for p in prospects[::2]])
        Prospect.qualify(prospects[:8])
        Prospect.sign_agreement(prospects[:6])
        Prospect.make_customer(prospects[:4])
        Prospect.write(prospects[:3], {
                'customer_date': today + dt.timedelta(days=3)})
        Prospect.write(prospects[3:4], {'customer_date': None})
        Prospect.mark_lost(prospects[8:10], LostReason.search([], limit=1)[0])
        Prospect.write(prospects[11:], {'active': False})
        # created on other days, counted again as after a fill in SQL
        prospect = Prospect.__table__()
        cursor = Transaction().connection.cursor()
        for ids, days in [([prospects[0].id, prospects[5].id], 1),
                ([prospects[1].id], 40)]:
            cursor.execute(*prospect.update(
                    [prospect.create_date],
                    [dt.datetime.combine(
                            today - dt.timedelta(days=days), dt.time(23))],
                    where=prospect.id.in_(ids)))
        ProspectDaily.rebuild()

        yesterday = today - dt.timedelta(days=1)
        for context in [
                {},
                {'from_date': yesterday, 'to_date': yesterday},
                {'from_date': yesterday, 'to_date': today},
                {'operator': ana.id},
                {'business_unit': optics.id},
                ]:
            with self.subTest(context=context), \
                    Transaction().set_context(context):
                if not {'from_date', 'to_date'} & context.keys():
                    self.assertEqual(
                        self._report('sale.prospect.report.assignment',
                            ['prospects', 'open_traces']),
                        self._assignment_rows())
                self.assertEqual(
                    self._report('sale.prospect.report.funnel', FUNNEL),
                    self._funnel_rows(context))

    def _report(self, name, columns):
        "Return the rows of the report as the client reads them, by key"
        Report = Pool().get(name)
        rows = Report.read([r.id for r in Report.search([])],
            ['business_unit', 'operator', *columns])
        return {(r['business_unit'], r['operator']): r for r in rows}

    def _prospects(self):
        "Return the prospect table and the condition of the context"
        Prospect = Pool().get('sale.prospect')
        prospect = Prospect.__table__()
        context = Transaction().context
        where = prospect.active == Literal(True)
        if context.get('operator'):
            where &= prospect.assigned_operator == context['operator']
        if context.get('business_unit'):
            where &= prospect.business_unit == context['business_unit']
        return prospect, where

    def _rows(self, query):
        cursor = Transaction().connection.cursor()
        cursor.execute(*query)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r)) for r in cursor]
        return {(r['business_unit'], r['operator']): r for r in rows}

    def _assignment_rows(self):
        "Return the rows of the prospects per operator counted on prospects"
        Trace = Pool().get('sale.prospect_trace')
        prospect, where = self._prospects()
        trace = Trace.__table__()
        open_ = trace.select(trace.prospect, Count(trace.id).as_('traces'),
            where=trace.state == 'open', group_by=[trace.prospect])
        rows = self._rows(prospect.join(
                open_, 'LEFT', condition=open_.prospect == prospect.id
                ).select(
                prospect.business_unit.as_('business_unit'),
                prospect.assigned_operator.as_('operator'),
                Count(prospect.id).as_('prospects'),
                Sum(Coalesce(open_.traces, 0)).as_('open_traces'),
                where=where,
                group_by=[prospect.business_unit, prospect.assigned_operator]))
        for row in rows.values():
            row['open_traces'] = int(row['open_traces'])
        return self._with_ids(rows, 'sale.prospect.report.assignment')

    def _funnel_rows(self, context):
        "Return the rows of the funnel counted on the prospects"
        ProspectDaily = Pool().get('sale.prospect.daily')
        prospect, where = self._prospects()
        if context.get('from_date'):
            where &= prospect.create_date >= dt.datetime.combine(
                context['from_date'], dt.time())
        if context.get('to_date'):
            where &= prospect.create_date < dt.datetime.combine(
                context['to_date'] + dt.timedelta(days=1), dt.time())
        customer = prospect.stage == 'customer'
        days = ProspectDaily._days_between(
            prospect.create_date, prospect.customer_date)
        rows = self._rows(prospect.select(
                prospect.business_unit.as_('business_unit'),
                prospect.assigned_operator.as_('operator'),
                Count(prospect.id).as_('prospects'),
                *(Count(prospect.id, filter_=prospect.stage == stage).as_(n)
                    for n, stage in STAGES),
                Avg(days, filter_=customer).as_('average_days_to_customer'),
                where=where,
                group_by=[prospect.business_unit, prospect.assigned_operator]))
        for row in rows.values():
            row['conversion'] = row['customers'] / row['prospects']
            if row['average_days_to_customer'] is not None:
                row['average_days_to_customer'] = float(
                    row['average_days_to_customer'])
        return self._with_ids(rows, 'sale.prospect.report.funnel')

    def _with_ids(self, rows, name):
        "Give the rows the ids of the report's rows of their key"
        Report = Pool().get(name)
        ids = {(r.business_unit and r.business_unit.id,
                r.operator and r.operator.id): r.id
            for r in Report.search([])}
        for key, row in rows.items():
            row['id'] = ids.get(key)
        return rows
