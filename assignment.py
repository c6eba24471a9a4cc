# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import heapq
from collections import defaultdict

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, Id
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .common import RecordAccessMixin
from .exceptions import AssignmentError

OPERATOR_DOMAIN = [
    ('groups', '=', Id(
            'sale_opportunity_management', 'group_prospect_operator')),
    ]


def selected_prospects():
    "Return the ids of the prospects selected when the wizard was started"
    context = Transaction().context
    if context.get('active_model') == 'sale.prospect':
        return list(context.get('active_ids') or [])


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
        if selected_prospects() is None:
            self.prospects = unassigned_prospects(self.business_unit)


def unassigned_prospects(business_unit=None):
    Prospect = Pool().get('sale.prospect')
    domain = [
        ('state', '=', 'unassigned'),
        ('stage', 'not in', ['customer', 'lost']),
        ]
    if business_unit:
        domain.append(('business_unit', '=', business_unit.id))
    return Prospect.search(
        domain, order=[('create_date', 'ASC'), ('id', 'ASC')])


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
        prospects = selected_prospects()
        if prospects is None:
            prospects = [p.id for p in unassigned_prospects()]
        return {'prospects': prospects}

    def transition_assign(self):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        prospects = list(self.start.prospects)
        if self.start.limit:
            prospects = prospects[:self.start.limit]
        operators = list(self.start.operators)
        check_operators(operators)
        shares = distribute(prospects, operators)
        Prospect.write(*(x for operator, assigned in shares.items()
                for x in (assigned, {'assigned_operator': operator.id})))
        open_traces(prospects, self.start.business_unit)
        return 'end'


def check_operators(operators):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    group = ModelData.get_id(
        'sale_opportunity_management', 'group_prospect_operator')
    operator_ids = {u.id for u in User.search([
                ('id', 'in', [o.id for o in operators]),
                ('groups', '=', group),
                ])}
    for operator in operators:
        if operator.id not in operator_ids:
            raise AssignmentError(gettext(
                    'sale_opportunity_management.msg_assign_not_operator',
                    user=operator.rec_name))


def operator_loads(operators):
    """Return the number of prospects in progress assigned to each
    operator"""
    pool = Pool()
    Prospect = pool.get('sale.prospect')
    prospect = Prospect.__table__()
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


def distribute(prospects, operators):
    """Share the prospects evenly between the operators, giving each next
    prospect to the least loaded operator"""
    moving = [p for p in prospects if p.assigned_operator in operators]
    loads = operator_loads(operators)
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


def open_traces(prospects, business_unit=None):
    """Open a trace for each prospect without an open trace for its
    business unit"""
    pool = Pool()
    Trace = pool.get('sale.prospect_trace')
    opened = {(t.prospect, t.business_unit) for t in Trace.search([
                ('prospect', 'in', [p.id for p in prospects]),
                ('state', '=', 'open'),
                ])}
    traces = []
    for prospect in prospects:
        unit = prospect.business_unit or business_unit
        if (prospect, unit) not in opened:
            contacts = prospect.contact_methods
            traces.append(Trace(
                    prospect=prospect, business_unit=unit,
                    prospect_contact=contacts[0] if contacts else None,
                    company=prospect.company))
    Trace.save(traces)


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
        if selected_prospects() is None:
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
        prospects = selected_prospects()
        if prospects:
            operators = {p.assigned_operator
                for p in Prospect.browse(prospects)}
            if len(operators) == 1:
                operator, = operators
                values['from_operator'] = operator.id if operator else None
            values['prospects'] = prospects
        return values

    def transition_reassign(self):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        check_operators([self.start.to_operator])
        for prospect in self.start.prospects:
            if prospect.assigned_operator != self.start.from_operator:
                raise AssignmentError(gettext(
                        'sale_opportunity_management'
                        '.msg_reassign_other_operator',
                        prospect=prospect.rec_name,
                        operator=self.start.from_operator.rec_name))
        Prospect.write(list(self.start.prospects), {
                'assigned_operator': self.start.to_operator.id,
                })
        return 'end'
