# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from trytond.modules.sale_opportunity_management.call_daily import (
    COUNTS, KEY)
from trytond.modules.sale_opportunity_management.tests.common import (
    ModuleDBTestCase, stored_counts)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


class CallDailyTestCase(ModuleDBTestCase):
    "Test the counts of calls per day follow the calls"

    def _stored(self, one_row=True):
        "Return the stored counts per key"
        stored, rows = stored_counts('sale.call.daily')
        if one_row:
            self.assertEqual(len(rows), len(stored), msg="one row per key")
        return stored

    def assertCountsFollowCalls(self, one_row=True):
        pool = Pool()
        Call = pool.get('sale.call')
        CallDaily = pool.get('sale.call.daily')
        expected = {
            key: {c: values.get(c, 0) for c in COUNTS}
            for key, values in CallDaily.counts(
                calls=[c.id for c in Call.search([])]).items()}
        stored = self._stored(one_row=one_row)
        self.assertEqual(stored, expected)
        self.assertTrue(all(v['calls'] for v in stored.values()))

    @with_transaction()
    def test_counts(self):
        "Test the counts after logging, changing and deleting calls"
        pool = Pool()
        User = pool.get('res.user')
        BusinessUnit = pool.get('sale.business_unit')
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        CallDaily = pool.get('sale.call.daily')
        ana, luis = User.create([{'login': 'ana'}, {'login': 'luis'}])
        optics, brigades = BusinessUnit.search([], limit=2)
        prospects = Prospect.create([
                {'name': "Óptica %s" % i, 'assigned_operator': ana.id}
                for i in range(3)])
        traces = Trace.create([
                {'prospect': prospects[0].id, 'business_unit': optics.id},
                {'prospect': prospects[1].id, 'business_unit': brigades.id},
                {'prospect': prospects[2].id},
                ])
        today = dt.date.today()
        yesterday = today - dt.timedelta(days=1)
        with Transaction().set_user(ana.id):
            calls = Call.create([{
                        'prospect_trace': trace.id,
                        'interest': interest,
                        'date': date,
                        }
                    for trace in traces
                    for interest, date in [
                        ('0', yesterday), ('2', yesterday), ('3', today)]])
        self.assertCountsFollowCalls()
        optics_today = self._stored()[(None, today, ana.id, optics.id)]
        self.assertEqual(optics_today['calls'], 1)
        self.assertEqual(optics_today['interest_3'], 1)
        self.assertEqual(optics_today['followup_calls'], 1)

        # corrected by an administrator: other interest, day, operator
        Call.write(calls[:1], {'interest': '1'}, calls[1:2], {
                'date': today, 'operator': luis.id})
        self.assertCountsFollowCalls()
        # a whole trace moved to another business unit
        Trace.write([traces[2]], {'business_unit': optics.id})
        self.assertCountsFollowCalls()
        # a call moved to another trace, then deleted with others
        Call.write(calls[3:4], {'prospect_trace': traces[0].id})
        self.assertCountsFollowCalls()
        Call.delete(calls[1:5])
        self.assertCountsFollowCalls()
        # and counted again from the calls alone
        stored = self._stored()
        CallDaily.rebuild()
        self.assertEqual(self._stored(), stored)

    @with_transaction()
    def test_counts_two_rows(self):
        """Test the counts of a day kept in two rows, as two first calls of
        a day logged at once leave them"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        CallDaily = pool.get('sale.call.daily')
        prospect, = Prospect.create([{'name': "Óptica"}])
        trace, = Trace.create([{'prospect': prospect.id}])
        first, second = Call.create([
                {'prospect_trace': trace.id, 'interest': i} for i in '23'])
        # the second call counted in a row of its own
        counts = CallDaily.counts(calls=[second.id])
        CallDaily.add(counts, sign=-1)
        (key, values), = counts.items()
        daily = CallDaily.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*daily.insert(
                [getattr(daily, c) for c in KEY + COUNTS],
                [[*key, *(values.get(c, 0) for c in COUNTS)]]))

        third, = Call.create([{'prospect_trace': trace.id, 'interest': '0'}])
        self.assertCountsFollowCalls(one_row=False)
        Call.write([third], {'interest': '1'})
        Call.delete([first])
        self.assertCountsFollowCalls(one_row=False)
