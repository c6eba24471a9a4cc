# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Tests of the migrations of the database of a previous version: the test
puts back the previous schema and values by SQL, then registers the models
as trytond-admin --update does"""
import datetime as dt

from sql import Null

from trytond.modules.sale_opportunity_management.tests.common import (
    MODULE, ModuleDBTestCase)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


class MigrationTestCase(ModuleDBTestCase):
    "Test the migrations from the previous versions"

    def _previous_lost_reason(self, texts):
        """Make the database look like 8.0.0's: the reason for loss a free
        text, no reason shipped"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Reason = pool.get('sale.prospect.lost_reason')
        ModelData = pool.get('ir.model.data')
        cursor = Transaction().connection.cursor()
        table_h = Prospect.__table_handler__(MODULE)
        table_h.drop_column('lost_reason')
        table_h.add_column('lost_reason', 'VARCHAR')
        table = Prospect.__table__()
        for prospect, text in texts.items():
            cursor.execute(*table.update(
                    [table.lost_reason, table.lost_date], [text, Null],
                    where=table.id == prospect.id))
        reason = Reason.__table__()
        data = ModelData.__table__()
        cursor.execute(*data.delete(
                where=(data.module == MODULE)
                & (data.model == Reason.__name__)))
        cursor.execute(*reason.delete())
        Pool().get('ir.model.data')._get_id_cache.clear()

    @with_transaction()
    def test_lost_reason_text(self):
        "Test the free text reasons are linked to a reason or commented"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Reason = pool.get('sale.prospect.lost_reason')
        ModelData = pool.get('ir.model.data')
        budget, competitor, reopened, ordinary, other = Prospect.create([
                {'name': "Budget", 'stage': 'lost', 'comment': "Old note"},
                {'name': "Competitor", 'stage': 'lost'},
                {'name': "Reopened", 'stage': 'qualified'},
                {'name': "Ordinary", 'stage': 'lead'},
                {'name': "Other", 'stage': 'lost'},
                ])
        self._previous_lost_reason({
                budget: "  no BUDGET! ",
                competitor: "Sin presupuesto",
                reopened: "chose a Competitor",
                ordinary: None,
                other: "Se fue con la competencia",
                })

        Prospect.__register__(MODULE)
        Transaction().cache.clear()

        self.assertFalse(
            Prospect.__table_handler__(MODULE).column_exist(
                '_temp_lost_reason'))
        budget_id = ModelData.get_id(MODULE, 'lost_reason_no_budget')
        competitor_id = ModelData.get_id(MODULE, 'lost_reason_competitor')
        for prospect, reason, comment in [
                (budget, budget_id, "Old note"),
                # "Sin presupuesto" is "No budget" in Spanish
                (competitor, budget_id, None),
                (reopened, competitor_id, None),
                (ordinary, None, None),
                (other, None, "Reason for loss: Se fue con la competencia"),
                ]:
            with self.subTest(prospect=prospect.name):
                prospect = Prospect(prospect.id)
                self.assertEqual(
                    prospect.lost_reason.id if prospect.lost_reason else None,
                    reason)
                self.assertEqual(prospect.comment, comment)
                self.assertEqual(
                    bool(prospect.lost_date), prospect.stage == 'lost')
        # the reasons created are those the XML file updates
        self.assertEqual(
            sorted(r.id for r in Reason.search([])),
            sorted({budget_id, competitor_id}))
        self.assertEqual(Reason(budget_id).name, "No budget")

        # a second update changes nothing
        Prospect.__register__(MODULE)
        self.assertEqual(Prospect(budget.id).lost_reason.id, budget_id)

    @with_transaction()
    def test_trace_operator(self):
        "Test the traces take the operator of their prospect"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        User = pool.get('res.user')
        operator, = User.create([{'login': 'ana'}])
        assigned, unassigned = Prospect.create([
                {'name': "Assigned", 'assigned_operator': operator.id},
                {'name': "Unassigned"},
                ])
        traces = Trace.create([
                {'prospect': assigned.id}, {'prospect': unassigned.id}])
        # 8.0.0 kept no operator on the traces
        Trace.__table_handler__(MODULE).drop_column('operator')

        Trace.__register__(MODULE)

        trace = Trace.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*trace.select(trace.prospect, trace.operator,
                where=trace.id.in_([t.id for t in traces])))
        self.assertEqual(dict(cursor), {
                assigned.id: operator.id, unassigned.id: None})

    @with_transaction()
    def test_trace_call_count(self):
        "Test the traces count their calls"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        prospects = Prospect.create([{'name': "Called"}, {'name': "Never"}])
        called, never = Trace.create([{'prospect': p.id} for p in prospects])
        Call.create([{'prospect_trace': called.id, 'interest': i}
                for i in ['0', '2']])
        # 8.0.0 kept neither the count nor the last date of the calls, nor
        # had their indexes
        table_h = Trace.__table_handler__(MODULE)
        table_h.set_indexes([])
        table_h.drop_column('call_count_cache')
        table_h.drop_column('last_call_date_cache')

        Trace.__register__(MODULE)

        self.assertEqual(
            Trace.search([('current_interest', '=', None),
                    ('prospect', 'in', [p.id for p in prospects])]), [never])
        self.assertEqual(
            [t.last_call_date_cache for t in Trace.browse([called, never])],
            [called.calls[0].date, None])

    @with_transaction()
    def test_call_following_dates(self):
        "Test the calls get the date of the call after them on their trace"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        call = Call.__table__()
        cursor = Transaction().connection.cursor()
        prospect, = Prospect.create([{'name': "Called"}])
        trace, = Trace.create([{'prospect': prospect.id}])
        today = dt.date.today()
        first, last = Call.create([
                {'prospect_trace': trace.id, 'interest': '0',
                    'date': today - dt.timedelta(days=3)},
                {'prospect_trace': trace.id, 'interest': '2', 'date': today},
                ])
        # 8.0.0 did not keep it, nor had the index including it
        table_h = Call.__table_handler__(MODULE)
        table_h.set_indexes([])
        table_h.drop_column('following_date_cache')

        Call.__register__(MODULE)

        cursor.execute(*call.select(call.id, call.following_date_cache,
                order_by=[call.id]))
        self.assertEqual(
            [(i, str(d) if d else d) for i, d in cursor],
            [(first.id, str(today)), (last.id, None)])
