# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"Tests of the lost prospects and their recycling"
import datetime as dt
from unittest.mock import patch

from trytond.ir.date import Date
from trytond.modules.sale_opportunity_management.tests.common import (
    ModuleDBTestCase)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction


class LostReasonTestCase(ModuleDBTestCase):
    "Test the lost prospects"

    @with_transaction()
    def test_recycle_lost(self):
        "Test recycling skips the prospects who asked not to be called"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Reason = pool.get('sale.prospect.lost_reason')
        Configuration = pool.get('sale.prospect.configuration')
        User = pool.get('res.user')
        Configuration.create([{'recycle_lost_after': dt.timedelta(days=30)}])
        reason, = Reason.search([], limit=1)
        admin, = User.search([('login', '=', 'admin')])
        called, quiet, recent = Prospect.create([
                {'name': "Called", 'assigned_operator': admin.id},
                {'name': "Quiet", 'assigned_operator': admin.id},
                {'name': "Recent", 'assigned_operator': admin.id},
                ])
        today = dt.date.today()
        with patch.object(Date, 'today', return_value=today):
            Prospect.mark_lost([called, quiet], reason)
        with patch.object(Date, 'today',
                return_value=today + dt.timedelta(days=20)):
            Prospect.mark_lost([recent], reason)
        # set by the call wizard or its button (S15)
        Prospect.write([quiet], {'do_not_call': True})

        with patch.object(Date, 'today',
                return_value=today + dt.timedelta(days=31)):
            recycled = Prospect.recycle_lost()

        self.assertEqual(recycled, [called])
        self.assertEqual(
            [(p.stage, p.state) for p in [called, quiet, recent]],
            [('lead', 'unassigned'), ('lost', 'assigned'),
                ('lost', 'assigned')])

    @with_transaction()
    def test_recycle_off(self):
        "Test nothing is recycled without a delay"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Reason = pool.get('sale.prospect.lost_reason')
        reason, = Reason.search([], limit=1)
        prospect, = Prospect.create([{'name': "Lost"}])
        Prospect.mark_lost([prospect], reason)
        with patch.object(Date, 'today',
                return_value=dt.date.today() + dt.timedelta(days=1000)):
            self.assertFalse(Prospect.recycle_lost())
        self.assertEqual(prospect.stage, 'lost')
