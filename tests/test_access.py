# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Unit tests of the doors guarded by the module (S13); the generated test
of tools/security-test knocks on every door over JSON-RPC"""
from trytond.exceptions import UserWarning
from trytond.model.exceptions import AccessError
from trytond.modules.sale_opportunity_management.tests.common import (
    MODULE, ModuleDBTestCase, create_user)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def rpc(Model, method, *args):
    "Call the method of the model as the dispatcher of a request does"
    rpc = Model.__rpc__[method]
    with Transaction().set_context(_check_access=True):
        return rpc.decorate(getattr(Model, method))(*args)


class AccessTestCase(ModuleDBTestCase):
    "Test the access to the records of the module, whatever the door"

    def _prospects(self):
        "Return an operator, a registrar, the operator's and another prospect"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        operator = create_user('operator', 'group_prospect_operator')
        registrar = create_user('registrar', 'group_prospect_registrar')
        mine, other = Prospect.create([
                {'name': "Mine", 'assigned_operator': operator.id},
                {'name': "Other"}])
        return operator, registrar, mine, other

    @with_transaction()
    def test_copy_foreign_refused(self):
        "Test an operator cannot copy the prospect of another"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        operator, _, _, other = self._prospects()
        with Transaction().set_user(operator.id):
            # refused for reading it, not for creating the copy
            with self.assertRaisesRegex(AccessError, 'read'):
                rpc(Prospect, 'copy', [other])

    @with_transaction()
    def test_on_change_foreign_value_refused(self):
        "Test an on_change cannot reach the prospect of another"
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        operator, _, mine, other = self._prospects()
        with Transaction().set_user(operator.id):
            rpc(Trace, 'on_change', Trace(prospect=mine.id), ['prospect'])
            with self.assertRaises(AccessError):
                rpc(Trace, 'on_change', Trace(prospect=other.id),
                    ['prospect'])

    @with_transaction()
    def test_stage_not_written_by_client(self):
        "Test the stage changes by its buttons, not by a client's write"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        operator, _, mine, _ = self._prospects()
        with Transaction().set_user(operator.id):
            with self.assertRaisesRegex(AccessError, 'Stage'):
                rpc(Prospect, 'write', [mine], {'stage': 'customer'})
            rpc(Prospect, 'qualify', [mine])
        self.assertEqual(mine.stage, 'qualified')

    def _lose(self, prospects, reason):
        "Run the lose dialog on the prospects as the dispatcher does"
        Lose = Pool().get('sale.prospect.lose', type='wizard')
        ids = [p.id for p in prospects]
        with Transaction().set_context(
                active_model='sale.prospect', active_ids=ids,
                active_id=ids[0]):
            session_id, _, _ = Lose.create()
            Lose.execute(session_id, {
                    'start': {'reason': reason.id, 'comment': "Gone"},
                    }, 'lose')

    @with_transaction()
    def test_lost_reason_given_by_the_dialog(self):
        "Test the reason for loss is given by the lose dialog only"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Reason = pool.get('sale.prospect.lost_reason')
        operator, _, mine, other = self._prospects()
        budget, competitor = Reason.search([], limit=2)
        with Transaction().set_user(operator.id):
            for values in [
                    {'lost_reason': budget.id},
                    {'lost_date': mine.create_date.date()},
                    {'agreement_date': mine.create_date.date()},
                    ]:
                with self.subTest(values=values), \
                        self.assertRaisesRegex(AccessError, 'directly'):
                    rpc(Prospect, 'write', [mine], values)
            with self.assertRaises(AccessError):
                self._lose([other], budget)
            self._lose([mine], budget)
            with self.assertRaises(AccessError):
                rpc(Prospect, 'write', [mine], {'lost_reason': competitor.id})
        self.assertEqual(
            (mine.stage, mine.lost_reason, other.stage),
            ('lost', budget, 'lead'))

    @with_transaction()
    def test_registrar_edits_own_unassigned(self):
        "Test a registrar edits only the unassigned prospects registered"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        _, registrar, mine, other = self._prospects()
        with Transaction().set_user(registrar.id):
            own, = rpc(Prospect, 'create', [{'name': "Registered"}])
            rpc(Prospect, 'write', [Prospect(own)], {'city': "Cali"})
            for prospect in [mine, other]:
                with self.subTest(prospect=prospect.name):
                    with self.assertRaises(AccessError):
                        rpc(Prospect, 'write', [prospect], {'city': "Cali"})
            # but reads them all, to avoid duplicates
            self.assertEqual(len(rpc(Prospect, 'read',
                        [mine.id, other.id], ['name'])), 2)

    @with_transaction()
    def test_operator_registers_when_assigned_to_creator(self):
        "Test operators register prospects only when they get them"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Configuration = pool.get('sale.prospect.configuration')
        Menu = pool.get('ir.ui.menu')
        ModelData = pool.get('ir.model.data')
        operator, _, _, _ = self._prospects()
        menu = Menu(ModelData.get_id(MODULE, 'menu_prospect_register'))
        group = ModelData.get_id(MODULE, 'group_prospect_operator')
        self.assertNotIn(group, [g.id for g in menu.groups])
        with Transaction().set_user(operator.id):
            with self.assertRaises(AccessError):
                rpc(Prospect, 'create', [{'name': "Found"}])

        Configuration.write([Configuration(1)], {'auto_assign_creator': True})
        self.assertIn(group, [g.id for g in Menu(menu.id).groups])
        with Transaction().set_user(operator.id):
            found, = rpc(Prospect, 'create', [{'name': "Found later"}])
        self.assertEqual(Prospect(found).assigned_operator, operator)

        Configuration.write([Configuration(1)], {'auto_assign_creator': False})
        self.assertNotIn(group, [g.id for g in Menu(menu.id).groups])

    @with_transaction()
    def test_duplicate_warning_key(self):
        "Test the duplicate warning does not depend on the new record's id"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Warning = pool.get('res.user.warning')
        Prospect.create([{'name': "Ópticas Sol S.A.S"}])
        keys = []
        for _ in range(2):
            with self.assertRaises(UserWarning) as context, \
                    Transaction().set_user(1):
                Prospect.create([{'name': "Opticas Sol"}])
            keys.append(context.exception.name)
            # as the rollback of the request would, with a new id next time
            Prospect.delete(Prospect.search([('name', '=', "Opticas Sol")]))
        self.assertEqual(keys[0], keys[1])
        Warning.create([{'user': 1, 'name': keys[0], 'always': False}])
        with Transaction().set_user(1):
            Prospect.create([{'name': "Opticas Sol"}])
        self.assertEqual(
            Prospect.search([('name', '=', "Opticas Sol")], count=True), 1)
