# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import heapq
from collections import defaultdict

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, Id
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .common import RecordAccessMixin, module_id
from .exceptions import AssignmentError

OPERATOR_DOMAIN = [
    ('groups', '=', Id(
            'sale_opportunity_management', 'group_prospect_operator')),
    ]


class Prospect(metaclass=PoolMeta):
    "The assignment of prospects to operators"
    __name__ = 'sale.prospect'

    @classmethod
    def selected(cls):
        """Return the ids of the prospects selected when a wizard was
        started, None when it was not started on prospects"""
        context = Transaction().context
        if context.get('active_model') == cls.__name__:
            return list(context.get('active_ids') or [])

    @classmethod
    def unassigned(cls, business_unit=None):
        "Return the prospects to assign, the oldest first"
        domain = [
            ('state', '=', 'unassigned'),
            ('stage', 'not in', ['customer', 'lost']),
            ]
        if business_unit:
            domain.append(('business_unit', '=', business_unit.id))
        return cls.search(
            domain, order=[('create_date', 'ASC'), ('id', 'ASC')])

    @classmethod
    def check_operators(cls, users):
        "Check the users are operators, who may be assigned prospects"
        User = Pool().get('res.user')
        operator_ids = {u.id for u in User.search([
                    ('id', 'in', [u.id for u in users]),
                    ('groups', '=', module_id('group_prospect_operator')),
                    ])}
        for user in users:
            if user.id not in operator_ids:
                raise AssignmentError(gettext(
                        'sale_opportunity_management.msg_assign_not_operator',
                        user=user.rec_name))

    @classmethod
    def operator_loads(cls, operators):
        """Return the number of prospects in progress assigned to each
        operator"""
        prospect = cls.__table__()
        cursor = Transaction().connection.cursor()
        loads = dict.fromkeys((o.id for o in operators), 0)
        cursor.execute(*prospect.select(
                prospect.assigned_operator, Count(prospect.id),
                where=fields.SQL_OPERATORS['in'](
                    prospect.assigned_operator, list(loads))
                & ~prospect.stage.in_(['customer', 'lost'])
                & (prospect.active == True),  # noqa: E712
                group_by=[prospect.assigned_operator]))
        loads.update(cursor)
        return loads

    @classmethod
    def distribute(cls, prospects, operators):
        """Share the prospects evenly between the operators, giving each
        next prospect to the least loaded operator"""
        moving = [p for p in prospects if p.assigned_operator in operators]
        loads = cls.operator_loads(operators)
        for prospect in moving:
            # The prospects to assign do not count in the load
            loads[prospect.assigned_operator.id] -= 1
        heap = [(loads[o.id], i, o) for i, o in enumerate(operators)]
        heapq.heapify(heap)
        shares = defaultdict(list)
        for prospect in prospects:
            load, i, operator = heapq.heappop(heap)
            shares[operator].append(prospect)
            heapq.heappush(heap, (load + 1, i, operator))
        return shares

    @classmethod
    def assign(cls, prospects, operators, business_unit=None):
        """Share the prospects between the operators and open their
        traces"""
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        cls.check_operators(operators)
        shares = cls.distribute(prospects, operators)
        cls.write(*(x for operator, assigned in shares.items()
                for x in (assigned, {'assigned_operator': operator.id})))
        Trace.open_for(prospects, business_unit)

    @classmethod
    def reassign(cls, prospects, from_operator, to_operator):
        "Give the prospects of an operator to another"
        cls.check_operators([to_operator])
        for prospect in prospects:
            if prospect.assigned_operator != from_operator:
                raise AssignmentError(gettext(
                        'sale_opportunity_management'
                        '.msg_reassign_other_operator',
                        prospect=prospect.rec_name,
                        operator=from_operator.rec_name))
        cls.write(prospects, {'assigned_operator': to_operator.id})


class AssignStart(RecordAccessMixin, ModelView):
    __name__ = 'sale.prospect.assign.start'

    operators = fields.Many2Many(
        'res.user', None, None, "Operators", required=True,
        domain=OPERATOR_DOMAIN,
        help="The operators to share the prospects between.")
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit",
        help="Limit the unassigned prospects proposed to this unit.")
    limit = fields.Integer(
        "Limit",
        domain=['OR',
            ('limit', '=', None),
            ('limit', '>', 0),
            ],
        help="The maximum number of prospects to assign.")
    prospects = fields.Many2Many(
        'sale.prospect', None, None, "Prospects", required=True,
        domain=[
            ('stage', 'not in', ['customer', 'lost']),
            ])

    @fields.depends('business_unit', 'prospects')
    def on_change_business_unit(self):
        Prospect = Pool().get('sale.prospect')
        if Prospect.selected() is None:
            self.prospects = Prospect.unassigned(self.business_unit)


class Assign(Wizard):
    __name__ = 'sale.prospect.assign'

    start = StateView(
        'sale.prospect.assign.start',
        'sale_opportunity_management.prospect_assign_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Assign", 'assign', 'tryton-ok', default=True),
            ])
    assign = StateTransition()

    def default_start(self, fields):
        Prospect = Pool().get('sale.prospect')
        prospects = Prospect.selected()
        if prospects is None:
            prospects = [p.id for p in Prospect.unassigned()]
        return {'prospects': prospects}

    def transition_assign(self):
        Prospect = Pool().get('sale.prospect')
        prospects = list(self.start.prospects)
        if self.start.limit:
            prospects = prospects[:self.start.limit]
        Prospect.assign(
            prospects, list(self.start.operators), self.start.business_unit)
        return 'end'


class ReassignStart(RecordAccessMixin, ModelView):
    __name__ = 'sale.prospect.reassign.start'

    from_operator = fields.Many2One(
        'res.user', "From Operator", required=True)
    to_operator = fields.Many2One(
        'res.user', "To Operator", required=True,
        domain=OPERATOR_DOMAIN + [
            ('id', '!=', Eval('from_operator', -1)),
            ])
    prospects = fields.Many2Many(
        'sale.prospect', None, None, "Prospects", required=True,
        domain=[
            ('assigned_operator', '=', Eval('from_operator', -1)),
            ])

    @fields.depends('from_operator', 'prospects')
    def on_change_from_operator(self):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        if Prospect.selected() is None:
            self.prospects = Prospect.search([
                    ('assigned_operator', '=', self.from_operator),
                    ]) if self.from_operator else []


class Reassign(Wizard):
    __name__ = 'sale.prospect.reassign'

    start = StateView(
        'sale.prospect.reassign.start',
        'sale_opportunity_management.prospect_reassign_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Reassign", 'reassign', 'tryton-ok', default=True),
            ])
    reassign = StateTransition()

    def default_start(self, fields):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        values = {}
        prospects = Prospect.selected()
        if prospects:
            operators = {p.assigned_operator
                for p in Prospect.browse(prospects)}
            if len(operators) == 1:
                operator, = operators
                values['from_operator'] = operator.id if operator else None
            values['prospects'] = prospects
        return values

    def transition_reassign(self):
        Prospect = Pool().get('sale.prospect')
        Prospect.reassign(
            list(self.start.prospects), self.start.from_operator,
            self.start.to_operator)
        return 'end'
