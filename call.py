# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
from collections import defaultdict
from email.message import EmailMessage
from email.utils import getaddresses

from sql import Literal, Window
from sql.aggregate import Count, Max, Min
from sql.conditionals import Case, Coalesce
from sql.functions import RowNumber
from sql.operators import Equal

import trytond.config as config
from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    ChatMixin, Exclude, Index, ModelSQL, ModelView, Workflow, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Date, Eval, If
from trytond.report import html_to_text
from trytond.sendmail import send_message
from trytond.tools import grouped_slice
from trytond.tools.email_ import format_address, set_from_header
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import (
    Button, StateTransition, StateView, Wizard)

from .common import (
    HIGH_INTEREST, INTERESTS, MEDIUM_INTEREST, NO_ANSWER, RecordAccessMixin,
    check_record_rules, is_prospect_admin, module_id, read_joined)
from .exceptions import (
    CallAccessError, CallingHoursWarning, CallValidationError, DeletionError,
    NoPendingCallError, TraceValidationError)

CALL_INTERESTS = [i for i in INTERESTS if i[0] is not None]


class Prospect(metaclass=PoolMeta):
    "The follow-up of a prospect: its traces and the interest of its calls"
    __name__ = 'sale.prospect'

    traces = fields.One2Many(
        'sale.prospect_trace', 'prospect', "Traces")
    current_interest = fields.Function(fields.Selection(
            INTERESTS, "Current Interest",
            help="The interest shown on the latest call."),
        'get_current_interest')
    next_call = fields.Function(fields.DateTime(
            "Next Call",
            help="The earliest next call of the open traces."))

    @classmethod
    def column_next_call(cls, tables):
        "The earliest next call of the open traces of the prospect"
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        table, _ = tables[None]
        trace = Trace.__table__()
        return trace.select(Min(trace.next_call),
            where=(trace.prospect == table.id) & (trace.state == 'open'))

    @classmethod
    def _latest_calls(cls, key):
        """Return a query of the calls numbered from the latest one
        (latest date, then highest id) for each value of the key column"""
        pool = Pool()
        Call = pool.get('sale.call')
        Trace = pool.get('sale.prospect_trace')
        call = Call.__table__()
        trace = Trace.__table__()
        columns = {'trace': call.prospect_trace, 'prospect': trace.prospect}
        column = columns[key]
        window = Window(
            [column], order_by=[call.date.desc, call.id.desc])
        return call.join(trace, condition=call.prospect_trace == trace.id
            ).select(
                column.as_('key'),
                call.interest.as_('interest'),
                RowNumber(window=window).as_('rank'))

    @classmethod
    def get_current_interest(cls, prospects, name):
        cursor = Transaction().connection.cursor()
        interests = dict.fromkeys(map(int, prospects))
        for sub_ids in grouped_slice(interests, backend.MAX_QUERY_PARAMS):
            latest = cls._latest_calls('prospect')
            cursor.execute(*latest.select(
                    latest.key, latest.interest,
                    where=fields.SQL_OPERATORS['in'](latest.key, sub_ids)
                    & (latest.rank == 1)))
            interests.update(cursor)
        return interests

    @classmethod
    def check_modification(
            cls, mode, prospects, values=None, external=False):
        super().check_modification(
            mode, prospects, values=values, external=external)
        if mode == 'delete':
            pool = Pool()
            Call = pool.get('sale.call')
            for sub_prospects in grouped_slice(
                    prospects, backend.MAX_QUERY_PARAMS):
                with without_check_access():
                    calls = Call.search([
                            ('prospect_trace.prospect', 'in',
                                [p.id for p in sub_prospects]),
                            ], limit=1)
                if calls:
                    call, = calls
                    raise DeletionError(gettext(
                            'sale_opportunity_management'
                            '.msg_prospect_delete_with_calls',
                            prospect=call.prospect_trace.prospect.rec_name))

    @classmethod
    def on_modification(cls, mode, prospects, field_names=None):
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        super().on_modification(mode, prospects, field_names=field_names)
        if mode == 'write' and 'assigned_operator' in field_names:
            for sub_prospects in grouped_slice(
                    prospects, backend.MAX_QUERY_PARAMS):
                Trace.copy_operator(Trace.search([
                            ('prospect', 'in', [p.id for p in sub_prospects]),
                            ]))

    @classmethod
    def copy(cls, prospects, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('traces', None)
        return super().copy(prospects, default=default)


class ProspectTrace(
        RecordAccessMixin, Workflow, ModelSQL, ModelView, ChatMixin):
    __name__ = 'sale.prospect_trace'
    _client_readonly = {
        'state', 'operator', 'call_count_cache', 'last_call_date_cache'}

    _states = {
        'readonly': Eval('state') == 'closed',
        }

    prospect = fields.Many2One(
        'sale.prospect', "Prospect", required=True, ondelete='CASCADE',
        states={
            'readonly': _states['readonly'] | Bool(Eval('calls', [0])),
            })
    prospect_contact = fields.Many2One(
        'prospect.contact_method', "Contact",
        domain=[
            ('prospect', '=', Eval('prospect', -1)),
            ],
        states=_states,
        help="The contact method to call.")
    prospect_name = fields.Function(
        fields.Char("Prospect Name"),
        'get_prospect_fields', searcher='search_prospect_field')
    prospect_city = fields.Function(
        fields.Char("City"),
        'get_prospect_fields', searcher='search_prospect_field')
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit", ondelete='RESTRICT',
        states={
            'readonly': _states['readonly'] | Bool(Eval('calls', [0])),
            })
    # The prospect's, kept on the trace for the operator's lists and rules
    operator = fields.Many2One(
        'res.user', "Operator", readonly=True, ondelete='RESTRICT',
        help="The operator assigned to the prospect.")
    calls = fields.One2Many(
        'sale.call', 'prospect_trace', "Calls", readonly=True,
        order=[('date', 'DESC'), ('id', 'DESC')])
    current_interest = fields.Function(fields.Selection(
            INTERESTS, "Current Interest",
            help="The interest shown on the latest call."),
        'get_current_interest', searcher='search_current_interest')
    current_interest_label = fields.Function(
        fields.Char("Interest Shown"), 'get_current_interest_label')
    call_count = fields.Function(fields.Integer("Calls"), 'get_kept')
    last_call_date = fields.Function(fields.Date("Last Call"), 'get_kept')
    # Kept by the calls, for the searches of the traces never called and
    # the lists of traces
    call_count_cache = fields.Integer("Call Count Cache", readonly=True)
    last_call_date_cache = fields.Date("Last Call Date Cache", readonly=True)
    next_call = fields.DateTime(
        "Next Call", states=_states,
        help="When to call the prospect again.")
    next_call_note = fields.Char(
        "Next Call Note", states=_states,
        help="What to do on the next call.")
    state = fields.Selection([
            ('open', "Open"),
            ('closed', "Closed"),
            ], "State", required=True, readonly=True, sort=False)
    company = fields.Many2One(
        'company.company', "Company", ondelete='RESTRICT',
        states=_states)

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('open_unique',
                Exclude(t, (t.prospect, Equal),
                    (Coalesce(t.business_unit, -1), Equal),
                    where=t.state == 'open'),
                'sale_opportunity_management.msg_trace_open_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.prospect, Index.Range())),
                # In the order of the lists of open traces, all of them
                # and an operator's
                Index(
                    t, (t.next_call, Index.Range(order='ASC NULLS FIRST')),
                    (t.id, Index.Range(order='DESC')),
                    where=t.state == 'open'),
                Index(
                    t, (t.operator, Index.Equality()),
                    (t.next_call, Index.Range(order='ASC NULLS FIRST')),
                    (t.id, Index.Range(order='DESC')),
                    where=t.state == 'open',
                    # for the pending calls to read the index alone
                    include=[t.call_count_cache, t.prospect, t.company,
                        t.business_unit]),
                })
        cls._order = [
            ('next_call', 'ASC NULLS FIRST'),
            ('id', 'DESC'),
            ]
        cls._transitions |= {
            ('open', 'closed'),
            ('closed', 'open'),
            }
        cls._buttons.update({
                'close': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': Eval('state') != 'closed',
                    'depends': ['state'],
                    },
                'make_call': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def __register__(cls, module):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Call = pool.get('sale.call')
        trace = cls.__table__()
        prospect = Prospect.__table__()
        call = Call.__table__()
        cursor = Transaction().connection.cursor()
        exist = backend.TableHandler.table_exist(cls._table)
        table_h = cls.__table_handler__(module)
        copy_operator = exist and not table_h.column_exist('operator')
        count_calls = exist and not table_h.column_exist('call_count_cache')
        date_calls = exist and not table_h.column_exist(
            'last_call_date_cache')
        super().__register__(module)
        # Migration from 8.0.0: the operator, the count of calls and the date
        # of the last call kept on the trace
        if copy_operator:
            cursor.execute(*trace.update([trace.operator], [prospect.select(
                            prospect.assigned_operator,
                            where=prospect.id == trace.prospect)]))
        if count_calls:
            cursor.execute(*trace.update(
                    [trace.call_count_cache], [call.select(
                            Count(call.id),
                            where=call.prospect_trace == trace.id)]))
        if date_calls:
            cursor.execute(*trace.update(
                    [trace.last_call_date_cache], [call.select(
                            Max(call.date),
                            where=call.prospect_trace == trace.id)]))

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_call_count_cache(cls):
        return 0

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @fields.depends(
        'prospect', 'business_unit', 'prospect_contact',
        '_parent_prospect.business_unit', '_parent_prospect.contact_methods')
    def on_change_prospect(self):
        if self.prospect:
            if not self.business_unit:
                self.business_unit = self.prospect.business_unit
            if (not self.prospect_contact
                    or self.prospect_contact.prospect != self.prospect):
                methods = self.prospect.contact_methods
                self.prospect_contact = methods[0] if methods else None
        else:
            self.prospect_contact = None

    def get_rec_name(self, name):
        name = self.prospect.rec_name
        if self.business_unit:
            name += ' (%s)' % self.business_unit.rec_name
        return name

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('prospect.rec_name',) + tuple(clause[1:])]

    @classmethod
    def get_prospect_fields(cls, traces, names):
        Prospect = Pool().get('sale.prospect')
        trace = cls.__table__()
        prospect = Prospect.__table__()
        return read_joined(
            trace, prospect, trace.prospect == prospect.id, traces, {
                'prospect_name': prospect.name,
                'prospect_city': prospect.city,
                }, names)

    @classmethod
    def search_prospect_field(cls, name, clause):
        prospect_fields = {
            'prospect_name': 'name',
            'prospect_city': 'city',
            }
        nested = clause[0][len(name):]
        return [('prospect.' + prospect_fields[name] + nested, *clause[1:])]

    @classmethod
    def _call_summary(cls):
        """Return a query with one row per trace with calls: the interest of
        the latest call"""
        pool = Pool()
        Call = pool.get('sale.call')
        call = Call.__table__()
        latest_first = Window(
            [call.prospect_trace], order_by=[call.date.desc, call.id.desc])
        calls = call.select(
            call.prospect_trace.as_('trace'),
            call.interest.as_('interest'),
            RowNumber(window=latest_first).as_('rank'))
        return calls.select(
            calls.trace, calls.interest.as_('current_interest'),
            where=calls.rank == 1)

    @classmethod
    def get_current_interest(cls, traces, name):
        cursor = Transaction().connection.cursor()
        interests = dict.fromkeys(map(int, traces))
        for sub_ids in grouped_slice(
                list(interests), backend.MAX_QUERY_PARAMS):
            summary = cls._call_summary()
            cursor.execute(*summary.select(
                    summary.trace, summary.current_interest,
                    where=fields.SQL_OPERATORS['in'](
                        summary.trace, sub_ids)))
            interests.update(cursor)
        return interests

    def get_kept(self, name):
        "The value kept by the calls"
        return getattr(self, name + '_cache')

    @classmethod
    def get_current_interest_label(cls, traces, name):
        "The label of the current interest, for views showing no selection"
        labels = dict(cls.fields_get(
                ['current_interest'])['current_interest']['selection'])
        interests = cls.get_current_interest(traces, 'current_interest')
        return {i: labels.get(v) if v else None
            for i, v in interests.items()}

    @classmethod
    def search_current_interest(cls, name, clause):
        _, operator, value = clause[:3]
        summary = cls._call_summary()
        values = value if isinstance(value, (list, tuple)) else [value]
        if None not in values or operator not in {'=', '!=', 'in', 'not in'}:
            Operator = fields.SQL_OPERATORS[operator]
            return [('id', 'in', summary.select(
                        summary.trace,
                        where=Operator(summary.current_interest, value)))]
        # Traces without calls have no interest
        interests = [v for v in values if v is not None]
        if operator in {'=', 'in'}:
            domain = ['OR', ('call_count_cache', '=', 0)]
            if interests:
                domain.append(('id', 'in', summary.select(
                            summary.trace,
                            where=summary.current_interest.in_(interests))))
        else:
            domain = [('call_count_cache', '!=', 0)]
            if interests:
                domain.append(('id', 'in', summary.select(
                            summary.trace,
                            where=~summary.current_interest.in_(interests))))
        return domain

    @classmethod
    def values_kept_by_calls(cls, traces):
        """Return the values of the trace fields kept by the calls (their
        count, the date of the last one) of each trace, by id"""
        Call = Pool().get('sale.call')
        call = Call.__table__()
        cursor = Transaction().connection.cursor()
        kept = {int(t): {'call_count_cache': 0, 'last_call_date_cache': None}
            for t in traces}
        for sub_ids in grouped_slice(list(kept), backend.MAX_QUERY_PARAMS):
            cursor.execute(*call.select(
                    call.prospect_trace, Count(call.id), Max(call.date),
                    where=fields.SQL_OPERATORS['in'](
                        call.prospect_trace, sub_ids),
                    group_by=[call.prospect_trace]))
            for trace_id, count, last_date in cursor:
                if isinstance(last_date, str):  # SQLite
                    last_date = dt.date.fromisoformat(last_date)
                kept[trace_id] = {
                    'call_count_cache': count,
                    'last_call_date_cache': last_date,
                    }
        return kept

    @classmethod
    def count_calls(cls, traces):
        "Count again the calls of the traces"
        kept = cls.values_kept_by_calls(traces)
        to_write = defaultdict(list)
        for trace in cls.browse(kept):
            values = kept[trace.id]
            if any(getattr(trace, n) != v for n, v in values.items()):
                to_write[tuple(values.items())].append(trace)
        if to_write:
            cls.write(*(x for values, traces in to_write.items()
                    for x in (traces, dict(values))))

    @classmethod
    def open_for(cls, prospects, business_unit=None):
        """Open a trace for each prospect without an open trace for its
        business unit (the given one for prospects without)"""
        opened = {(t.prospect, t.business_unit) for t in cls.search([
                    ('prospect', 'in', [p.id for p in prospects]),
                    ('state', '=', 'open'),
                    ])}
        traces = []
        for prospect in prospects:
            unit = prospect.business_unit or business_unit
            if (prospect, unit) not in opened:
                contacts = prospect.contact_methods
                traces.append(cls(
                        prospect=prospect, business_unit=unit,
                        prospect_contact=contacts[0] if contacts else None,
                        company=prospect.company))
        cls.save(traces)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        values = super().preprocess_values(mode, values)
        if values.get('prospect'):
            prospect = Prospect(values['prospect'])
            if mode == 'create' and not values.get('business_unit'):
                if prospect.business_unit:
                    values['business_unit'] = prospect.business_unit.id
            values['operator'] = (prospect.assigned_operator.id
                if prospect.assigned_operator else None)
        return values

    @classmethod
    def copy_operator(cls, traces):
        "Copy on the traces the operator assigned to their prospect"
        by_operator = defaultdict(list)
        for trace in traces:
            operator = trace.prospect.assigned_operator
            if trace.operator != operator:
                by_operator[operator.id if operator else None].append(trace)
        to_write = []
        for operator, traces in by_operator.items():
            to_write.extend((traces, {'operator': operator}))
        if to_write:
            cls.write(*to_write)

    @classmethod
    def check_modification(cls, mode, traces, values=None, external=False):
        if external and mode in {'write', 'delete'}:
            check_record_rules(cls, traces)
        super().check_modification(
            mode, traces, values=values, external=external)
        if external and mode == 'create':
            cls.check_calling_hours([(t, t.next_call) for t in traces])
        elif external and mode == 'write' and values.get('next_call'):
            cls.check_calling_hours(
                [(t, values['next_call']) for t in traces])
        if mode == 'delete':
            for trace in traces:
                if trace.calls:
                    raise DeletionError(gettext(
                            'sale_opportunity_management'
                            '.msg_trace_delete_with_calls',
                            trace=trace.rec_name))
        if mode == 'write' and 'prospect' in values:
            # Only move_to_prospect gives a trace with calls to another
            # prospect
            moving = Transaction().context.get('_trace_moves') or ()
            for trace in traces:
                if trace.id in moving:
                    continue
                if trace.calls and trace.prospect.id != values['prospect']:
                    raise TraceValidationError(gettext(
                            'sale_opportunity_management'
                            '.msg_trace_change_prospect',
                            trace=trace.rec_name))

    @classmethod
    def move_to_prospect(cls, traces, prospect, contacts=None):
        """Give the traces, their calls included, to the prospect: merging
        prospects keeps their history on the prospect kept.

        contacts maps traces to their new contact method (or None); the
        others keep theirs.  Only this method changes the prospect of a
        trace with calls, which a write refuses."""
        contacts = contacts or {}
        to_write = []
        for trace in traces:
            values = {'prospect': prospect.id}
            if trace in contacts:
                contact = contacts[trace]
                values['prospect_contact'] = contact.id if contact else None
            to_write.extend(([trace], values))
        if not to_write:
            return
        moving = Transaction().context.get('_trace_moves') or ()
        with Transaction().set_context(
                _trace_moves=tuple(moving) + tuple(t.id for t in traces)):
            cls.write(*to_write)

    @classmethod
    def check_calling_hours(cls, schedules):
        """Warn about the next calls outside the calling hours, given as
        (trace, next call) pairs; once skipped, they are kept as typed"""
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        Warning = pool.get('res.user.warning')
        Lang = pool.get('ir.lang')
        config = Configuration(1)
        for trace, next_call in schedules:
            if not next_call or config.in_calling_hours(
                    next_call, trace.company):
                continue
            key = Warning.format(
                'next_call_hours.%s' % next_call.isoformat(), [trace])
            if Warning.check(key):
                lang = Lang.get()
                local = config.local_datetime(next_call, trace.company)
                raise CallingHoursWarning(key, gettext(
                        'sale_opportunity_management'
                        '.msg_next_call_outside_hours',
                        trace=trace.rec_name,
                        next_call='%s %s' % (
                            lang.strftime(local.date()),
                            local.strftime('%H:%M')),
                        start=config.call_start.strftime('%H:%M'),
                        end=config.call_end.strftime('%H:%M')))

    @classmethod
    def copy(cls, traces, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('calls', None)
        default.setdefault('next_call', None)
        default.setdefault('next_call_note', None)
        return super().copy(traces, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, traces):
        cls.write(traces, {'next_call': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def reopen(cls, traces):
        pass

    @classmethod
    @ModelView.button_action('sale_opportunity_management.wizard_make_call')
    def make_call(cls, traces):
        pass

    def schedule_after_call(self, call):
        """Return the next call to schedule after the call when the operator
        gave none: a retry after a missed call, else nothing"""
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        Date = pool.get('ir.date')
        config = Configuration(1)
        if call.interest != NO_ANSWER or not config.missed_call_retry:
            return None
        if call.date < Date.today():
            # Logging a past call is no reason to call again
            return None
        missed = 0
        for other in self.calls:
            if other.interest != NO_ANSWER:
                break
            missed += 1
        if config.max_missed_calls and missed >= config.max_missed_calls:
            return None
        now = dt.datetime.now().replace(microsecond=0)
        return config.next_calling_slot(
            now + config.missed_call_retry, self.company)


class Call(RecordAccessMixin, ModelSQL, ModelView):
    __name__ = 'sale.call'
    _client_readonly = {'following_date_cache'}

    prospect_trace = fields.Many2One(
        'sale.prospect_trace', "Trace", required=True, ondelete='RESTRICT',
        domain=[
            If(Eval('id', -1) < 0,
                ('state', '=', 'open'),
                ()),
            ])
    prospect = fields.Function(
        fields.Many2One('sale.prospect', "Prospect"),
        'get_trace_fields', searcher='search_trace_field')
    date = fields.Date("Date", required=True)
    description = fields.Text("Description")
    interest = fields.Selection(
        CALL_INTERESTS, "Interest", required=True, sort=False)
    interest_string = interest.translated('interest')
    call_type = fields.Selection([
            (None, ""),
            ('first_call', "First Call"),
            ('followup_call', "Follow-up Call"),
            ], "Call Type", sort=False,
        help="Leave empty to deduce it from the calls of the trace.")
    call_result = fields.Function(fields.Selection([
                ('missed_call', "Missed Call"),
                ('answered_call', "Answered Call"),
                ], "Result"))
    operator = fields.Many2One(
        'res.user', "Operator", ondelete='RESTRICT',
        states={
            'readonly': True,
            })
    business_unit = fields.Function(
        fields.Many2One('sale.business_unit', "Business Unit"),
        'get_trace_fields', searcher='search_trace_field')
    contact_method = fields.Many2One(
        'prospect.contact_method', "Contact Method", ondelete='SET NULL',
        domain=[
            ('prospect', '=', Eval('prospect', -1)),
            ],
        help="The number or address used.")
    duration = fields.TimeDelta("Duration")
    company = fields.Many2One(
        'company.company', "Company", ondelete='RESTRICT')
    # Kept by the calls of the trace: the date of the call after this one
    # (by date and id), for the last call of each trace in a period
    following_date_cache = fields.Date(
        "Following Call Date Cache", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                # The calls of a trace, and the last calls of the traces in
                # a period, read on the index alone by the reports
                Index(
                    t, (t.prospect_trace, Index.Range()),
                    (t.date, Index.Range()),
                    include=[t.id, t.interest, t.company]),
                Index(
                    t, (t.date, Index.Range()),
                    include=[
                        t.prospect_trace, t.company, t.following_date_cache]),
                Index(
                    t, (t.operator, Index.Range()),
                    (t.date, Index.Range())),
                # The potential customers, latest first
                Index(
                    t, (t.date, Index.Range()), (t.id, Index.Range()),
                    where=t.interest == HIGH_INTEREST, include=[t.company]),
                })
        cls._order = [
            ('date', 'DESC'),
            ('id', 'DESC'),
            ]

    @classmethod
    def __register__(cls, module):
        call = cls.__table__()
        cursor = Transaction().connection.cursor()
        exist = backend.TableHandler.table_exist(cls._table)
        table_h = cls.__table_handler__(module)
        link_calls = exist and not table_h.column_exist(
            'following_date_cache')
        super().__register__(module)
        # Migration from 8.0.0: the date of the following call kept
        if link_calls:
            cursor.execute(*call.select(call.prospect_trace, distinct=True))
            cls.keep_following_dates([t for t, in cursor])

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    @classmethod
    def default_operator(cls):
        return Transaction().user or None

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def column_call_result(cls, tables):
        table, _ = tables[None]
        return Case(
            (table.interest == NO_ANSWER, Literal('missed_call')),
            else_=Literal('answered_call'))

    @fields.depends('prospect_trace', 'contact_method')
    def on_change_prospect_trace(self):
        if self.prospect_trace:
            self.prospect = self.prospect_trace.prospect
            self.business_unit = self.prospect_trace.business_unit
            if not self.contact_method:
                self.contact_method = self.prospect_trace.prospect_contact
            if self.prospect_trace.company:
                self.company = self.prospect_trace.company
        else:
            self.prospect = self.business_unit = None

    @fields.depends('interest')
    def on_change_with_call_result(self, name=None):
        if self.interest:
            return ('missed_call' if self.interest == NO_ANSWER
                else 'answered_call')

    def get_rec_name(self, name):
        return '%s @ %s' % (self.prospect_trace.rec_name, self.date)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('prospect_trace.rec_name',) + tuple(clause[1:])]

    @classmethod
    def get_trace_fields(cls, calls, names):
        Trace = Pool().get('sale.prospect_trace')
        call = cls.__table__()
        trace = Trace.__table__()
        return read_joined(
            call, trace, call.prospect_trace == trace.id, calls, {
                'prospect': trace.prospect,
                'business_unit': trace.business_unit,
                }, names)

    @classmethod
    def search_trace_field(cls, name, clause):
        nested = clause[0][len(name):]
        return [('prospect_trace.' + name + nested, *clause[1:])]

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('prospect_trace'):
            trace = Trace(values['prospect_trace'])
            if 'contact_method' not in values and trace.prospect_contact:
                values['contact_method'] = trace.prospect_contact.id
            if not values.get('company') and trace.company:
                values['company'] = trace.company.id
        return values

    @classmethod
    def create(cls, vlist):
        return super().create(cls._with_call_types(vlist))

    @classmethod
    def _with_call_types(cls, vlist):
        """Return the values with the empty call types deduced: first call
        for the first call of its trace, else follow-up call"""
        call = cls.__table__()
        cursor = Transaction().connection.cursor()
        untyped = {v['prospect_trace'] for v in vlist
            if not v.get('call_type') and v.get('prospect_trace')}
        called = set()
        for sub_ids in grouped_slice(list(untyped), backend.MAX_QUERY_PARAMS):
            cursor.execute(*call.select(
                    call.prospect_trace,
                    where=fields.SQL_OPERATORS['in'](
                        call.prospect_trace, sub_ids),
                    group_by=[call.prospect_trace]))
            called.update(trace_id for trace_id, in cursor)
        typed = []
        for values in vlist:
            trace_id = values.get('prospect_trace')
            if not values.get('call_type') and trace_id:
                values = values.copy()
                values['call_type'] = (
                    'followup_call' if trace_id in called else 'first_call')
                called.add(trace_id)
            typed.append(values)
        return typed

    @classmethod
    def check_modification(cls, mode, calls, values=None, external=False):
        if external and mode in {'write', 'delete'}:
            check_record_rules(cls, calls)
        super().check_modification(
            mode, calls, values=values, external=external)
        if mode == 'create':
            cls.check_trace_open(calls)
            if external and not is_prospect_admin():
                cls.check_operator_create(calls)
        elif mode == 'write':
            if 'prospect_trace' in values:
                cls.check_trace_open(calls)
            if external and not is_prospect_admin():
                cls.check_operator_write(calls, values)
        elif mode == 'delete':
            if external and not is_prospect_admin():
                raise DeletionError(gettext(
                        'sale_opportunity_management.msg_call_delete',
                        call=calls[0].rec_name))

    @classmethod
    def validate_fields(cls, calls, field_names):
        super().validate_fields(calls, field_names)
        cls.check_date(calls, field_names)

    @classmethod
    def check_date(cls, calls, field_names=None):
        "Refuse the calls dated in the future: a call is logged once made"
        pool = Pool()
        Date = pool.get('ir.date')
        Lang = pool.get('ir.lang')
        if field_names and 'date' not in field_names:
            return
        today = Date.today()
        for call in calls:
            if call.date and call.date > today:
                raise CallValidationError(gettext(
                        'sale_opportunity_management.msg_call_future_date',
                        call=call.prospect_trace.rec_name,
                        date=Lang.get().strftime(call.date)))

    @classmethod
    def check_trace_open(cls, calls):
        for call in calls:
            if call.prospect_trace.state == 'closed':
                raise CallValidationError(gettext(
                        'sale_opportunity_management.msg_call_trace_closed',
                        trace=call.prospect_trace.rec_name))

    @classmethod
    def check_operator_create(cls, calls):
        "Let operators log calls in their own name only"
        user = Transaction().user
        for call in calls:
            if not call.operator or call.operator.id != user:
                raise CallAccessError(gettext(
                        'sale_opportunity_management.msg_call_operator',
                        call=call.rec_name))

    # What an operator may correct on their own saved calls: the trace,
    # date, interest and operator are the facts the reports count
    _operator_corrections = {
        'description', 'duration', 'contact_method', 'call_type'}

    @classmethod
    def check_operator_write(cls, calls, values):
        "Let operators correct only some fields of their own calls"
        user = Transaction().user
        protected = values.keys() - cls._operator_corrections
        for call in calls:
            if protected or call.operator is None or call.operator.id != user:
                raise CallAccessError(gettext(
                        'sale_opportunity_management.msg_call_write',
                        call=call.rec_name,
                        fields=', '.join(sorted(
                                cls._fields[f].string
                                for f in (protected or values.keys())))))

    @classmethod
    def on_modification(cls, mode, calls, field_names=None):
        super().on_modification(mode, calls, field_names=field_names)
        if mode == 'create':
            with without_check_access():
                cls.update_traces(calls)
                cls.qualify_prospects(calls)

    @classmethod
    def update_traces(cls, calls):
        """Count the calls of the traces called and clear their next call,
        or schedule the retry of a missed call"""
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        latest = {}
        for call in sorted(calls, key=lambda c: (c.date, c.id)):
            latest[call.prospect_trace] = call
        kept = Trace.values_kept_by_calls(latest)
        cls.keep_following_dates(latest)
        to_write = defaultdict(list)
        for trace, call in latest.items():
            key = (trace.schedule_after_call(call), *kept[trace.id].items())
            to_write[key].append(trace)
        # Written even when unchanged: two calls logged at once on a trace
        # then conflict on it and the second is retried, seeing the first
        # (one first call per trace)
        Trace.write(*(x for (next_call, *values), traces in to_write.items()
                for x in (traces, {
                        'next_call': next_call,
                        'next_call_note': None,
                        **dict(values),
                        })))

    @classmethod
    def on_write(cls, calls, values):
        Trace = Pool().get('sale.prospect_trace')
        callbacks = super().on_write(calls, values)
        if values.keys() & {'prospect_trace', 'date'}:
            traces = {c.prospect_trace for c in calls}
            if 'prospect_trace' in values:
                traces.add(Trace(values['prospect_trace']))
            callbacks = callbacks + [
                lambda: cls.calls_changed(list(traces))]
        return callbacks

    @classmethod
    def on_delete(cls, calls):
        callbacks = super().on_delete(calls)
        traces = list({c.prospect_trace for c in calls})
        return callbacks + [lambda: cls.calls_changed(traces)]

    @classmethod
    def calls_changed(cls, traces):
        "Keep what the calls keep of the traces whose calls changed"
        Trace = Pool().get('sale.prospect_trace')
        Trace.count_calls(traces)
        cls.keep_following_dates(traces)

    @classmethod
    def keep_following_dates(cls, traces):
        """Keep on each call of the traces the date of the call after it on
        its trace (by date and id), empty for the last one"""
        call = cls.__table__()
        cursor = Transaction().connection.cursor()
        in_ = fields.SQL_OPERATORS['in']
        for sub_ids in grouped_slice(
                sorted(map(int, traces)), backend.MAX_QUERY_PARAMS):
            cursor.execute(*call.select(
                    call.id, call.prospect_trace, call.date,
                    call.following_date_cache,
                    where=in_(call.prospect_trace, list(sub_ids)),
                    order_by=[
                        call.prospect_trace, call.date.desc, call.id.desc]))
            changed, following = defaultdict(list), {}
            for id_, trace, date, kept in cursor.fetchall():
                if kept != following.get(trace):
                    changed[following.get(trace)].append(id_)
                following[trace] = date
            # A cache for the queries, not a change of the calls: their
            # write date and user stay those of the people who changed them
            for date, ids in changed.items():
                for sub_calls in grouped_slice(ids):
                    cursor.execute(*call.update(
                            [call.following_date_cache], [date],
                            where=in_(call.id, list(sub_calls))))

    @classmethod
    def qualify_prospects(cls, calls):
        "Qualify the leads on their first answered call"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        leads = {c.prospect_trace.prospect for c in calls
            if c.interest != NO_ANSWER
            and c.prospect_trace.prospect.stage == 'lead'}
        if leads:
            Prospect.qualify(list(leads))

    @classmethod
    def copy(cls, calls, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('operator')
        default.setdefault('following_date_cache')
        return super().copy(calls, default=default)

    @classmethod
    def send_information(cls, calls):
        """Send the information e-mail (the module's template) to the mail
        contacts of the prospects of the calls.

        Run as a task of the queue, after the calls are committed: the
        messages go out one by one, each refusal or connection failure is
        recorded on the call's trace and notified to its operator, and the
        sent messages are stored as e-mails of the prospect"""
        pool = Pool()
        Email = pool.get('ir.email')
        Template = pool.get('ir.email.template')
        template = Template(module_id('email_template_prospect'))
        for call in calls:
            prospect = call.prospect_trace.prospect
            try:
                values = template.get(prospect)
                if not values.get('to'):
                    raise ValueError(gettext(
                            'sale_opportunity_management'
                            '.msg_information_no_address',
                            prospect=prospect.rec_name))
                message = cls._information_message(values)
                send_message(message, strict=True)
            except Exception as exception:
                cls.information_failed(call, exception)
                continue
            Email.from_message(
                message, body=values.get('body'), resource=prospect).save()

    @classmethod
    def _information_message(cls, values):
        "Return the e-mail message of the template's values"
        pool = Pool()
        User = pool.get('res.user')
        user = User(Transaction().user)
        message = EmailMessage()
        body = values.get('body') or ''
        html = '<!DOCTYPE html><html><body>%s%s</body></html>' % (
            body, ('<br/>%s' % user.signature) if user.signature else '')
        text = html_to_text(html)
        if text:
            message.set_content(text)
            message.add_alternative(html, subtype='html')
        else:
            message.set_content(html, subtype='html')
        from_ = config.get('email', 'from')
        set_from_header(message, from_, user.email or from_)
        message['To'] = ', '.join(
            format_address(address, name)
            for name, address in getaddresses(values['to']))
        for key, header in [('cc', 'Cc'), ('bcc', 'Bcc')]:
            if values.get(key):
                message[header] = ', '.join(
                    format_address(address, name)
                    for name, address in getaddresses(values[key]))
        message['Subject'] = values.get('subject') or ''
        return message

    @classmethod
    def information_failed(cls, call, exception):
        """Record on the call's trace that its information was not sent and
        notify its operator"""
        pool = Pool()
        Note = pool.get('ir.note')
        Notification = pool.get('res.notification')
        trace = call.prospect_trace
        text = gettext(
            'sale_opportunity_management.msg_information_not_sent',
            prospect=trace.prospect.rec_name,
            error=str(exception) or exception.__class__.__name__)
        Note.save([Note(resource=trace, message=text)])
        user = call.operator or Transaction().user
        if user:
            Notification.save([Notification(
                        user=user, label=text, icon='tryton-warning',
                        model=trace.__name__, records='[%d]' % trace.id)])


class MakeCallStart(RecordAccessMixin, ModelView):
    """The call being logged and, for the operator's screen, what to know
    before dialling"""
    __name__ = 'sale.prospect_trace.make_call.start'

    # What the operator sees, set by the wizards from the trace: the client
    # sends it back, so the trace is checked before a call is logged on it
    trace = fields.Many2One('sale.prospect_trace', "Trace", readonly=True)
    prospect = fields.Many2One('sale.prospect', "Prospect", readonly=True)
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit", readonly=True)
    current_interest = fields.Selection(
        INTERESTS, "Current Interest", readonly=True, sort=False)
    todo = fields.Char(
        "To Do", readonly=True,
        help="What was planned for this call.")
    contacts = fields.Many2Many(
        'prospect.contact_method', None, None, "Contact Methods",
        readonly=True, help="Click a link to dial or write.")
    history = fields.Text(
        "Last Calls", readonly=True,
        help="The latest calls of the trace, the latest first.")
    questions = fields.Text(
        "Questions to Ask", readonly=True,
        help="The profiling questions the prospect has not answered yet.")
    has_mail = fields.Boolean("Has E-Mail", readonly=True)
    # The traces the operator's screen skipped or logged, not proposed again
    # unless a logged one is due
    skipped = fields.Many2Many(
        'sale.prospect_trace', None, None, "Skipped", readonly=True)
    logged = fields.Many2Many(
        'sale.prospect_trace', None, None, "Logged", readonly=True)

    # The call
    date = fields.Date(
        "Date", required=True,
        domain=[
            ('date', '<=', Date()),
            ],
        help="The day of the call, for a call logged afterwards.")
    # The empty choice makes the operator pick the interest explicitly
    interest = fields.Selection(
        INTERESTS, "Interest", required=True, sort=False)
    description = fields.Text("Description")
    call_type = fields.Selection(
        'get_call_types', "Call Type",
        help="Leave empty to deduce it from the calls of the trace.")
    contact_method = fields.Many2One(
        'prospect.contact_method', "Contact Method",
        domain=[
            ('prospect', '=', Eval('prospect', -1)),
            ])
    duration = fields.TimeDelta("Duration")
    answers = fields.Many2Many(
        'sale.prospect.question.answer', None, None, "Answers",
        help="The answers given during the call to profiling questions; "
        "each replaces an earlier answer to the same question.")
    next_call = fields.DateTime(
        "Next Call",
        help="Leave empty when no call is planned.")
    next_call_note = fields.Char(
        "Next Call Note",
        states={
            'invisible': ~Eval('next_call'),
            })
    send_information = fields.Boolean(
        "Send Information",
        states={
            'readonly': ~Eval('has_mail'),
            },
        help="Send the information e-mail to the prospect's addresses.")
    close_trace = fields.Boolean(
        "Close Trace", help="Check when the trace needs no more calls.")
    do_not_call = fields.Boolean(
        "Do Not Call",
        help="Check when the prospect asked not to be called again: "
        "its traces are closed.")

    @classmethod
    def get_call_types(cls):
        pool = Pool()
        Call = pool.get('sale.call')
        return Call.fields_get(['call_type'])['call_type']['selection']

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    @fields.depends('interest', 'has_mail')
    def on_change_with_send_information(self):
        return bool(self.interest == MEDIUM_INTEREST and self.has_mail)

    @classmethod
    def values_of(cls, trace):
        "Return the values that show the trace and start its call"
        pool = Pool()
        Date = pool.get('ir.date')
        Question = pool.get('sale.prospect.question')
        Lang = pool.get('ir.lang')
        lang = Lang.get()
        prospect = trace.prospect
        contacts = [m for m in prospect.contact_methods if m.active]
        answered = {a.question.id for a in prospect.answers}
        questions = Question.search([('id', 'not in', list(answered))])
        if questions:
            # With the answers to choose from, as the operator asks them
            questions = '\n'.join(
                '%s (%s)' % (q.name, ' / '.join(a.name for a in q.answers))
                if q.answers else q.name
                for q in questions)
        elif answered:
            # Said, rather than an empty field the operator takes for a fault
            questions = gettext(
                'sale_opportunity_management.msg_questions_all_answered')
        else:
            questions = ''
        history = []
        for call in trace.calls[:cls._last_calls]:
            line = '%s  %s' % (lang.strftime(call.date), call.interest_string)
            if call.description:
                line += ': ' + ' '.join(call.description.split())
            history.append(line)
        return {
            'trace': trace.id,
            'prospect': prospect.id,
            'business_unit': (
                trace.business_unit.id if trace.business_unit else None),
            'current_interest': trace.current_interest,
            'todo': trace.next_call_note,
            'contacts': [m.id for m in contacts],
            'history': '\n'.join(history),
            'questions': questions,
            'has_mail': any(m.contact_type == 'mail' for m in contacts),
            'date': Date.today(),
            'contact_method': (
                trace.prospect_contact.id if trace.prospect_contact
                else None),
            'send_information': False,
            }

    # How many of the latest calls of the trace the form shows
    _last_calls = 5

    def log(self, trace, next_call=None):
        """Log the call on the trace with the values of the form and return
        it; next_call is a preset next call that replaces the typed one"""
        pool = Pool()
        Call = pool.get('sale.call')
        Trace = pool.get('sale.prospect_trace')
        check_record_rules(Trace, [trace])
        prospect = trace.prospect
        if next_call is None and self.next_call:
            next_call = self.next_call
            Trace.check_calling_hours([(trace, next_call)])
        contact_method = self.contact_method
        if contact_method and contact_method.prospect != prospect:
            contact_method = None
        call = Call(
            prospect_trace=trace,
            date=self.date or Call.default_date(),
            interest=self.interest,
            description=self.description,
            call_type=self.call_type,
            contact_method=contact_method,
            duration=self.duration)
        call.save()
        if self.answers:
            self.store_answers(prospect, self.answers)
        if next_call:
            trace.next_call = next_call
            trace.next_call_note = self.next_call_note
            trace.save()
        if self.close_trace and trace.state == 'open':
            Trace.close([trace])
        if self.send_information and self.interest != NO_ANSWER:
            Call.__queue__.send_information([call])
        return call

    @classmethod
    def store_answers(cls, prospect, answers):
        """Store the answers on the prospect, each replacing an earlier
        answer to the same question"""
        answers = list(answers)
        questions = {a.question for a in answers}
        kept = [a for a in prospect.answers if a.question not in questions]
        prospect.answers = kept + answers
        prospect.save()


class MakeCall(Wizard):
    __name__ = 'sale.prospect_trace.make_call'

    # No default button: Enter in a field of the dialog would submit the
    # form while the client redraws its selection widgets, and send their
    # first, empty, option (the interest lost)
    start = StateView(
        'sale.prospect_trace.make_call.start',
        'sale_opportunity_management.make_call_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Log", 'log_call', 'tryton-ok'),
            ])
    log_call = StateTransition()

    def default_start(self, fields):
        Start = Pool().get('sale.prospect_trace.make_call.start')
        return Start.values_of(self.record)

    def transition_log_call(self):
        self.start.log(self.record)
        return 'end'

    def end(self):
        return 'reload'


class NextCallDone(RecordAccessMixin, ModelView):
    "The end of the calls to make now"
    __name__ = 'sale.prospect_trace.next_call.done'

    next_trace = fields.Many2One(
        'sale.prospect_trace', "Next Scheduled Call", readonly=True)
    next_call = fields.DateTime("At", readonly=True)


class NextCall(Wizard):
    """The operator's screen: the most urgent trace with what to know, its
    call logged in one click (no answer) or a few (an answer, a note and a
    preset next call), then the next trace, in the same tab"""
    __name__ = 'sale.prospect_trace.next_call'

    start = StateTransition()
    call = StateView(
        'sale.prospect_trace.make_call.start',
        'sale_opportunity_management.next_call_call_view_form', [
            Button("Close", 'end', 'tryton-close'),
            Button("Skip", 'skip', 'tryton-forward', validate=False),
            Button("No Answer", 'no_answer', 'tryton-call', validate=False),
            Button("In Two Hours", 'in_two_hours', 'tryton-history'),
            Button("Tomorrow Morning", 'tomorrow_morning', 'tryton-history'),
            Button(
                "Tomorrow Afternoon", 'tomorrow_afternoon', 'tryton-history'),
            Button("Next Week", 'next_week', 'tryton-history'),
            Button("Log", 'log', 'tryton-ok', default=True),
            ])
    done = StateView(
        'sale.prospect_trace.next_call.done',
        'sale_opportunity_management.next_call_done_view_form', [
            Button("Close", 'end', 'tryton-close'),
            Button("Look Again", 'next_trace', 'tryton-refresh'),
            ])
    next_trace = StateTransition()
    skip = StateTransition()
    no_answer = StateTransition()
    log = StateTransition()
    in_two_hours = StateTransition()
    tomorrow_morning = StateTransition()
    tomorrow_afternoon = StateTransition()
    next_week = StateTransition()

    def transition_start(self):
        trace = self.most_urgent()
        if not trace:
            raise NoPendingCallError(gettext(
                    'sale_opportunity_management.msg_no_pending_call'))
        self.call.trace = trace
        return 'call'

    def transition_next_trace(self):
        "Show the next trace to call, or that none is left"
        trace = self.most_urgent(
            skipped=self.call.skipped, handled=self.call.logged)
        if not trace:
            return 'done'
        self.call.trace = trace
        return 'call'

    def default_call(self, fields):
        Start = Pool().get('sale.prospect_trace.make_call.start')
        values = Start.values_of(self.call.trace)
        values['skipped'] = [t.id for t in self.call.skipped]
        values['logged'] = [t.id for t in self.call.logged]
        return values

    def default_done(self, fields):
        trace = self.most_urgent(skipped=self.call.skipped)
        return {
            'next_trace': trace.id if trace else None,
            'next_call': trace.next_call if trace else None,
            }

    def transition_skip(self):
        self.call.skipped = list(self.call.skipped) + [self.call.trace]
        return 'next_trace'

    def transition_no_answer(self):
        self.call.interest = NO_ANSWER
        return self._log()

    def transition_log(self):
        return self._log()

    def transition_in_two_hours(self):
        return self._log('in_two_hours')

    def transition_tomorrow_morning(self):
        return self._log('tomorrow_morning')

    def transition_tomorrow_afternoon(self):
        return self._log('tomorrow_afternoon')

    def transition_next_week(self):
        return self._log('next_week')

    def _log(self, preset=None):
        "Log the call, with the preset next call if any, then go on"
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        trace = self.call.trace
        next_call = None
        if preset:
            next_call = Configuration(1).preset_next_call(
                preset, dt.datetime.now(), trace.company)
        self.call.log(trace, next_call=next_call)
        self.call.logged = list(self.call.logged) + [trace]
        return 'next_trace'

    @classmethod
    def _domain(cls):
        "Return the domain of the traces the user may be proposed"
        return [
            ('operator', '=', Transaction().user),
            ('state', '=', 'open'),
            ]

    @classmethod
    def most_urgent(cls, skipped=(), handled=()):
        """Return the open trace of the user to call first: the earliest
        call due, else the oldest trace never called, else the earliest
        call scheduled; never a skipped trace, nor a handled one that is
        not due"""
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        mine = cls._domain()
        if skipped:
            mine.append(('id', 'not in', [t.id for t in skipped]))
        later = []
        if handled:
            later.append(('id', 'not in', [t.id for t in handled]))
        now = dt.datetime.now()
        for domain, order in [
                ([('next_call', '<=', now)], [('next_call', 'ASC')]),
                ([('next_call', '=', None), ('current_interest', '=', None)],
                    [('id', 'ASC')]),
                ([('next_call', '>', now)] + later, [('next_call', 'ASC')]),
                ]:
            traces = Trace.search(
                mine + domain, order=order + [('id', 'ASC')], limit=1)
            if traces:
                return traces[0]
