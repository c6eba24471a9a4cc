# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from dateutil.relativedelta import relativedelta
from sql import Cast, Literal, Null
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Coalesce, NullIf
from sql.functions import DateTrunc

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.fields.date import SQLite_Date
from trytond.pool import Pool
from trytond.pyson import Eval, If, In, PYSONEncoder
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import StateAction, Wizard

from .common import (
    HIGH_INTEREST, INTERESTS, RecordAccessMixin, is_prospect_admin,
    remove_client_writes)
from .exceptions import ReportContextError

PATH_SEPARATOR = ' → '


class Context(RecordAccessMixin, ModelView):
    __name__ = 'sale.call.report.context'

    from_date = fields.Date(
        "From Date",
        domain=[
            If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')),
                ()),
            ])
    to_date = fields.Date(
        "To Date",
        domain=[
            If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')),
                ()),
            ])
    operator = fields.Many2One('res.user', "Operator")
    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    period = fields.Selection([
            ('day', "Day"),
            ('week', "Week"),
            ('month', "Month"),
            ], "Period", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        for name in ['from_date', 'to_date', 'operator', 'business_unit',
                'period']:
            field = getattr(cls, name)
            field.states = {**field.states, **cls.used_by_report(name)}

    @classmethod
    def used_by_report(cls, name):
        """Return the states hiding the filter from the reports that do not
        use it: their action lists those they use in the context"""
        return {
            'invisible': ~In(
                name, Eval('context', {}).get('report_filters', [name])),
            }

    @classmethod
    def default_from_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        return Date.today().replace(day=1)

    @classmethod
    def default_to_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'to_date' in context:
            return context['to_date']
        return Date.today() + relativedelta(day=31)

    @classmethod
    def default_operator(cls):
        return Transaction().context.get('operator')

    @classmethod
    def default_business_unit(cls):
        return Transaction().context.get('business_unit')

    @classmethod
    def default_period(cls):
        return Transaction().context.get('period', 'day')

    @classmethod
    def report_context(cls):
        """Return the filters of the report context, checked: the values come
        from the client as they are, and one of the wrong type must be
        refused with a user error rather than reach the SQL query"""
        context = Transaction().context
        values = {}
        for name in ['from_date', 'to_date']:
            value = context.get(name)
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value)
                except ValueError:
                    raise cls._invalid(name, value)
            if value is not None and not isinstance(value, dt.date):
                raise cls._invalid(name, value)
            values[name] = value
        for name in ['operator', 'business_unit']:
            value = context.get(name)
            if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int)):
                raise cls._invalid(name, value)
            values[name] = value
        values['period'] = context.get('period') or 'day'
        if values['period'] not in dict(cls.period.selection):
            raise cls._invalid('period', values['period'])
        return values

    @classmethod
    def _invalid(cls, name, value):
        return ReportContextError(gettext(
                'sale_opportunity_management.msg_report_context_invalid',
                name=name, value=str(value)[:100]))


class ReportMixin(RecordAccessMixin):
    """Read-only report whose query is assembled from small class methods,
    for other modules to extend"""
    __slots__ = ()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Rows are read, never stored
        remove_client_writes(cls)

    @classmethod
    def table_query(cls):
        from_item, tables = cls._joins()
        return from_item.select(
            *cls._columns(tables),
            where=cls._where(tables),
            group_by=cls._group_by(tables) or None)

    @classmethod
    def search(cls, domain, offset=0, limit=None, order=None, count=False,
            query=False):
        if count or query:
            return super().search(domain, offset=offset, limit=limit,
                order=order, count=count, query=query)
        # Tryton's search also fetches every column of the rows for its
        # cache and keeps none of them for a report: fetch the ids alone
        select = super().search(domain, offset=offset, limit=limit,
            order=order, query=True)
        cursor = Transaction().connection.cursor()
        cursor.execute(*select)
        return cls.browse([id_ for id_, in cursor])

    @classmethod
    def _group_by(cls, tables):
        return []

    @classmethod
    def _company_filter(cls, column):
        "Return the condition on the companies of the user, or no company"
        User = Pool().get('res.user')
        return column.in_(User.get_companies() or [-1]) | (column == Null)

    @classmethod
    def _calls_in_period(cls, call):
        "Return the condition on the calls of the companies and the period"
        Context = Pool().get('sale.call.report.context')
        context = Context.report_context()
        where = cls._company_filter(call.company)
        if context['from_date']:
            where &= call.date >= context['from_date']
        if context['to_date']:
            where &= call.date <= context['to_date']
        return where

    @classmethod
    def _context_filter(cls, operator, business_unit):
        """Return the condition of the operator and business unit of the
        context on the columns"""
        Context = Pool().get('sale.call.report.context')
        context = Context.report_context()
        where = Literal(True)
        if context['operator']:
            where &= operator == context['operator']
        if context['business_unit']:
            where &= business_unit == context['business_unit']
        return where


class CallReportMixin(ReportMixin):
    "Report on the calls of the period of the context"
    __slots__ = ()

    @classmethod
    def _joins(cls):
        pool = Pool()
        Call = pool.get('sale.call')
        Trace = pool.get('sale.prospect_trace')
        tables = {
            'call': Call.__table__(),
            'trace': Trace.__table__(),
            }
        call, trace = tables['call'], tables['trace']
        # Every call has its trace: LEFT lets PostgreSQL skip the join where
        # no column of the trace is read, as when the rows are counted
        from_item = call.join(
            trace, 'LEFT', condition=call.prospect_trace == trace.id)
        return from_item, tables

    @classmethod
    def _where(cls, tables):
        call, trace = tables['call'], tables['trace']
        return cls._calls_in_period(call) & cls._context_filter(
            call.operator, trace.business_unit)

    @classmethod
    def open_calls_domain(cls, rows):
        "Return the domain of the calls counted in the rows"
        Context = Pool().get('sale.call.report.context')
        context = Context.report_context()
        domain = [['OR', *(cls._row_calls_domain(r) for r in rows)]]
        if context['from_date']:
            domain.append(('date', '>=', context['from_date']))
        if context['to_date']:
            domain.append(('date', '<=', context['to_date']))
        if context['business_unit']:
            domain.append(('business_unit', '=', context['business_unit']))
        return domain

    @classmethod
    def _row_calls_domain(cls, row):
        "Return the domain of the calls counted in the row"
        return [('operator', '=', row.operator.id if row.operator else None)]


class CallDailyReportMixin(CallReportMixin):
    "Report on the calls of the period, from their counts per day"
    __slots__ = ()

    @classmethod
    def _joins(cls):
        CallDaily = Pool().get('sale.call.daily')
        daily = CallDaily.__table__()
        return daily, {'daily': daily}

    @classmethod
    def _where(cls, tables):
        daily = tables['daily']
        return cls._calls_in_period(daily) & cls._context_filter(
            daily.operator, daily.business_unit)


class CallOperator(CallDailyReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.call.report.operator'

    operator = fields.Many2One('res.user', "Operator")
    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    calls = fields.Integer("Calls")
    answered = fields.Integer("Answered")
    missed = fields.Integer("Missed")
    interest_0 = fields.Integer("No Answer")
    interest_1 = fields.Integer("Not Interested")
    interest_2 = fields.Integer("Medium Interest")
    interest_3 = fields.Integer("High Interest")
    first_calls = fields.Integer("First Calls")
    followup_calls = fields.Integer("Follow-up Calls")
    answer_rate = fields.Float(
        "Answer Rate", digits=(1, 4),
        help="The share of the calls that were answered.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('calls', 'DESC'),
            ('operator', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def _columns(cls, tables):
        daily = tables['daily']
        calls = Sum(daily.calls)
        answered = calls - Sum(daily.interest_0)
        return [
            Min(daily.id).as_('id'),
            daily.operator.as_('operator'),
            daily.business_unit.as_('business_unit'),
            calls.as_('calls'),
            answered.as_('answered'),
            Sum(daily.interest_0).as_('missed'),
            *(Sum(getattr(daily, f'interest_{i}')).as_(f'interest_{i}')
                for i in '0123'),
            Sum(daily.first_calls).as_('first_calls'),
            Sum(daily.followup_calls).as_('followup_calls'),
            cls.answer_rate.sql_cast(answered / cls.answer_rate.sql_cast(calls)
                ).as_('answer_rate'),
            ]

    @classmethod
    def _group_by(cls, tables):
        daily = tables['daily']
        return [daily.operator, daily.business_unit]

    @classmethod
    def _row_calls_domain(cls, row):
        return super()._row_calls_domain(row) + [
            ('business_unit', '=',
                row.business_unit.id if row.business_unit else None),
            ]


class CallOperatorTimeseries(CallDailyReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.call.report.operator.timeseries'

    operator = fields.Many2One('res.user', "Operator")
    date = fields.Date("Date")
    calls = fields.Integer("Calls")
    answered = fields.Integer("Answered")
    high_interest = fields.Integer("High Interest")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('date', 'ASC'),
            ('operator', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def table_query(cls):
        # The counts of each day with the first day of its period, grouped
        # in an outer query by its plain column: PostgreSQL binds the period
        # as a parameter, which makes two DateTrunc expressions different
        days = super().table_query()
        return days.select(
            *cls._bucket_columns(days),
            group_by=cls._bucket_group_by(days))

    @classmethod
    def _columns(cls, tables):
        Context = Pool().get('sale.call.report.context')
        period = Context.report_context()['period']
        daily = tables['daily']
        return [
            daily.id, daily.operator, daily.calls, daily.interest_0,
            daily.interest_3,
            cls.date.sql_cast(cls._period_start(period, daily.date)
                ).as_('date'),
            ]

    @classmethod
    def _period_start(cls, period, column):
        "Return the SQL expression of the first day of the column's period"
        if period == 'week' and backend.name == 'sqlite':
            # SQLite's date_trunc of trytond knows no week: back to Monday
            return SQLite_Date(column, 'weekday 0', '-6 days')
        return DateTrunc(period, column)

    @classmethod
    def _bucket_columns(cls, days):
        return [
            Min(days.id).as_('id'),
            days.operator.as_('operator'),
            days.date.as_('date'),
            Sum(days.calls).as_('calls'),
            (Sum(days.calls) - Sum(days.interest_0)).as_('answered'),
            Sum(days.interest_3).as_('high_interest'),
            ]

    @classmethod
    def _bucket_group_by(cls, days):
        return [days.operator, days.date]

    @classmethod
    def _row_calls_domain(cls, row):
        Context = Pool().get('sale.call.report.context')
        period = Context.report_context()['period']
        end = row.date + relativedelta(**{period + 's': 1})
        return super()._row_calls_domain(row) + [
            ('date', '>=', row.date),
            ('date', '<', end),
            ]


class TraceReportMixin(ReportMixin):
    """Report on the traces, which keep their operator: the prospects are
    not joined"""
    __slots__ = ()

    @classmethod
    def _joins(cls):
        Trace = Pool().get('sale.prospect_trace')
        trace = Trace.__table__()
        return trace, {'trace': trace}


class TraceInterest(ReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.prospect_trace.report.interest'

    trace = fields.Many2One('sale.prospect_trace', "Trace")
    prospect = fields.Many2One('sale.prospect', "Prospect")
    operator = fields.Many2One('res.user', "Operator")
    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    state = fields.Selection([
            ('open', "Open"),
            ('closed', "Closed"),
            ], "State")
    calls = fields.Integer(
        "Calls", help="The calls of the trace in the period, which the "
        "other columns describe.")
    first_interest = fields.Selection(INTERESTS, "First Interest")
    last_interest = fields.Selection(INTERESTS, "Last Interest")
    max_interest = fields.Selection(INTERESTS, "Highest Interest")
    first_call_date = fields.Date("First Call")
    last_call_date = fields.Date("Last Call")
    interest_path = fields.Function(
        fields.Char("Interest Path", help="The interests in call order."),
        'get_interest_path')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('last_call_date', 'DESC'),
            ('id', 'DESC'),
            ]

    @classmethod
    def _joins(cls):
        pool = Pool()
        Call = pool.get('sale.call')
        Trace = pool.get('sale.prospect_trace')
        call, trace = Call.__table__(), Trace.__table__()
        # Left joined for PostgreSQL to leave the traces out of the search
        # and the count: a call has a trace
        return (call.join(
                trace, 'LEFT', condition=call.prospect_trace == trace.id),
            {'call': call, 'trace': trace})

    @classmethod
    def _columns(cls, tables):
        call, trace = tables['call'], tables['trace']
        trace_id = call.prospect_trace
        return [
            trace_id.as_('id'),
            trace_id.as_('trace'),
            trace.prospect.as_('prospect'),
            trace.operator.as_('operator'),
            trace.business_unit.as_('business_unit'),
            trace.state.as_('state'),
            cls._of_calls(trace_id, Count, 'id').as_('calls'),
            cls._interest_in_order(trace_id, 'asc').as_('first_interest'),
            cls._interest_in_order(trace_id, 'desc').as_('last_interest'),
            cls._of_calls(trace_id, Max, 'interest').as_('max_interest'),
            cls._of_calls(trace_id, Min, 'date').as_('first_call_date'),
            call.date.as_('last_call_date'),
            ]

    @classmethod
    def _calls_of(cls, trace_id):
        """Return a table of the calls and the condition of the calls of the
        trace of the column trace_id in the period"""
        Call = Pool().get('sale.call')
        call = Call.__table__()
        where = (call.prospect_trace == trace_id) & cls._calls_in_period(call)
        return call, where

    @classmethod
    def _of_calls(cls, trace_id, aggregate, name):
        """Return the aggregate of the column name over the calls of the
        trace in the period"""
        call, where = cls._calls_of(trace_id)
        return call.select(aggregate(getattr(call, name)), where=where)

    @classmethod
    def _interest_in_order(cls, trace_id, direction):
        """Return the interest of the first call of the trace in the period
        in the direction"""
        call, where = cls._calls_of(trace_id)
        return call.select(
            call.interest, where=where,
            order_by=[
                getattr(call.date, direction), getattr(call.id, direction)],
            limit=1)

    @classmethod
    def _where(cls, tables):
        Context = Pool().get('sale.call.report.context')
        to_date = Context.report_context()['to_date']
        call, trace = tables['call'], tables['trace']
        # One row per trace called in the period: its last call in the
        # period, the one the calls of the trace say is followed by none in
        # the period; found on the calls' index by date (the calls of the
        # companies of the user, as their traces)
        last = call.following_date_cache == Null
        if to_date:
            last |= call.following_date_cache > to_date
        return (cls._calls_in_period(call) & last
            & cls._context_filter(trace.operator, trace.business_unit))

    @classmethod
    def get_interest_path(cls, rows, name):
        "The interests of the calls of the period counted in the row"
        pool = Pool()
        Call = pool.get('sale.call')
        call = Call.__table__()
        cursor = Transaction().connection.cursor()
        paths = {r.id: [] for r in rows}
        for sub_ids in grouped_slice(list(paths), backend.MAX_QUERY_PARAMS):
            cursor.execute(*call.select(
                    call.prospect_trace, call.interest,
                    where=fields.SQL_OPERATORS['in'](
                        call.prospect_trace, sub_ids)
                    & cls._calls_in_period(call),
                    order_by=[call.prospect_trace, call.date, call.id]))
            for trace_id, interest in cursor:
                paths[trace_id].append(interest)
        return {i: PATH_SEPARATOR.join(p) for i, p in paths.items()}


class TracePending(TraceReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.prospect_trace.report.pending'

    operator = fields.Many2One('res.user', "Operator")
    open_traces = fields.Integer("Open Traces")
    never_called = fields.Integer("Never Called")
    scheduled = fields.Integer("Scheduled")
    due = fields.Integer(
        "Due", help="Never called nor planned, or next call planned until "
        "the end of the period.")
    overdue = fields.Integer(
        "Overdue", help="Next call planned before now.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('due', 'DESC'),
            ('operator', 'ASC NULLS FIRST'),
            ('id', 'ASC'),
            ]

    @classmethod
    def _columns(cls, tables):
        Context = Pool().get('sale.call.report.context')
        context = Context.report_context()
        trace = tables['trace']
        called = trace.call_count_cache != 0
        # A trace never called and not planned is to call now, as Next Call
        # proposes it
        fresh = (trace.next_call == Null) & ~called
        due = trace.next_call != Null
        if context['to_date']:
            end = dt.datetime.combine(
                context['to_date'] + dt.timedelta(days=1), dt.time())
            due &= trace.next_call < end
        due |= fresh
        return [
            Min(trace.id).as_('id'),
            trace.operator.as_('operator'),
            Count(trace.id).as_('open_traces'),
            Count(trace.id, filter_=~called).as_('never_called'),
            Count(trace.id, filter_=trace.next_call != Null
                ).as_('scheduled'),
            Count(trace.id, filter_=due).as_('due'),
            Count(trace.id, filter_=trace.next_call < dt.datetime.now()
                ).as_('overdue'),
            ]

    @classmethod
    def _where(cls, tables):
        Prospect = Pool().get('sale.prospect')
        trace = tables['trace']
        prospect = Prospect.__table__()
        where = (trace.state == 'open') & cls._company_filter(trace.company)
        # Never proposed, even when an administrator reopened a trace (S15);
        # the few prospects marked, read on their index
        where &= ~trace.prospect.in_(prospect.select(
                prospect.id, where=prospect.do_not_call == Literal(True)))
        return where & cls._context_filter(
            trace.operator, trace.business_unit)

    @classmethod
    def _group_by(cls, tables):
        return [tables['trace'].operator]


class ProspectReportMixin(ReportMixin):
    "Report on the active prospects of the companies of the user"
    __slots__ = ()

    @classmethod
    def _joins(cls):
        Prospect = Pool().get('sale.prospect')
        prospect = Prospect.__table__()
        return prospect, {'prospect': prospect}

    @classmethod
    def _where(cls, tables):
        prospect = tables['prospect']
        return ((prospect.active == Literal(True))
            & cls._company_filter(prospect.company)
            & cls._context_filter(
                prospect.assigned_operator, prospect.business_unit))


class ProspectDailyReportMixin(ReportMixin):
    """Report on the active prospects of the companies of the user, from
    their counts per day of creation"""
    __slots__ = ()

    @classmethod
    def _joins(cls):
        ProspectDaily = Pool().get('sale.prospect.daily')
        daily = ProspectDaily.__table__()
        return daily, {'daily': daily}

    @classmethod
    def _where(cls, tables):
        daily = tables['daily']
        return cls._company_filter(daily.company) & cls._context_filter(
            daily.operator, daily.business_unit)

    @classmethod
    def _group_by(cls, tables):
        daily = tables['daily']
        return [daily.business_unit, daily.operator]


class ProspectAssignment(ProspectDailyReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.prospect.report.assignment'

    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    operator = fields.Many2One('res.user', "Operator")
    operator_name = fields.Char(
        "Operator Name", help="The name of the operator, or Unassigned.")
    prospects = fields.Integer("Prospects")
    open_traces = fields.Integer("Open Traces")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('business_unit', 'ASC NULLS FIRST'),
            ('operator', 'ASC NULLS FIRST'),
            ('id', 'ASC'),
            ]

    @classmethod
    def _joins(cls):
        User = Pool().get('res.user')
        from_item, tables = super()._joins()
        tables['user'] = user = User.__table__()
        from_item = from_item.join(
            user, 'LEFT', condition=tables['daily'].operator == user.id)
        return from_item, tables

    @classmethod
    def _columns(cls, tables):
        daily, user = tables['daily'], tables['user']
        # The graph draws a bar per name, adding up the business units:
        # never an empty name, with which sao 8.0 drew an unlabelled bar and
        # left an operator out
        unassigned = gettext(
            'sale_opportunity_management.msg_report_unassigned')
        return [
            Min(daily.id).as_('id'),
            daily.business_unit.as_('business_unit'),
            daily.operator.as_('operator'),
            Coalesce(
                Max(Coalesce(NullIf(user.name, ''), user.login)), unassigned
                ).as_('operator_name'),
            Sum(daily.prospects).as_('prospects'),
            Sum(daily.open_traces).as_('open_traces'),
            ]


class CallHighInterest(CallReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.call.report.high_interest'

    call = fields.Many2One('sale.call', "Call")
    date = fields.Date("Date")
    prospect = fields.Many2One('sale.prospect', "Prospect")
    trace = fields.Many2One('sale.prospect_trace', "Trace")
    operator = fields.Many2One('res.user', "Operator")
    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    contact_method = fields.Many2One(
        'prospect.contact_method', "Contact Method")
    description = fields.Text("Description")
    trace_state = fields.Selection([
            ('open', "Open"),
            ('closed', "Closed"),
            ], "Trace State")
    current_interest = fields.Selection(INTERESTS, "Current Interest")
    calls = fields.Integer("Calls", help="One per row, to count them.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('date', 'DESC'),
            ('id', 'DESC'),
            ]

    @classmethod
    def _columns(cls, tables):
        pool = Pool()
        Call = pool.get('sale.call')
        call, trace = tables['call'], tables['trace']
        # The latest call of the trace, read through the index of the calls
        # by trace and date rather than by numbering all the calls
        latest = Call.__table__()
        current_interest = latest.select(
            latest.interest,
            where=latest.prospect_trace == call.prospect_trace,
            order_by=[latest.date.desc, latest.id.desc], limit=1)
        return [
            call.id.as_('id'),
            call.id.as_('call'),
            call.date.as_('date'),
            trace.prospect.as_('prospect'),
            trace.id.as_('trace'),
            call.operator.as_('operator'),
            trace.business_unit.as_('business_unit'),
            call.contact_method.as_('contact_method'),
            call.description.as_('description'),
            trace.state.as_('trace_state'),
            current_interest.as_('current_interest'),
            Literal(1).as_('calls'),
            ]

    @classmethod
    def _where(cls, tables):
        return super()._where(tables) & (
            tables['call'].interest == HIGH_INTEREST)

    @classmethod
    def _row_calls_domain(cls, row):
        return [('id', '=', row.id)]


class ProspectFunnel(ProspectDailyReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.prospect.report.funnel'

    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    operator = fields.Many2One('res.user', "Operator")
    prospects = fields.Integer(
        "Prospects", help="The prospects created in the period.")
    leads = fields.Integer("Leads")
    qualified = fields.Integer("Qualified")
    agreements = fields.Integer("Agreements")
    customers = fields.Integer("Customers")
    lost = fields.Integer("Lost")
    conversion = fields.Float(
        "Conversion", digits=(1, 4),
        help="The share of the prospects that became customers.")
    average_days_to_customer = fields.Float(
        "Average Days to Customer", digits=(16, 1),
        help="The mean number of days from the creation of the prospects "
        "to their becoming customers.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('business_unit', 'ASC NULLS FIRST'),
            ('operator', 'ASC NULLS FIRST'),
            ('id', 'ASC'),
            ]

    @classmethod
    def _columns(cls, tables):
        daily = tables['daily']
        prospects = Sum(daily.prospects)
        customers = Sum(daily.customers)
        return [
            Min(daily.id).as_('id'),
            daily.business_unit.as_('business_unit'),
            daily.operator.as_('operator'),
            prospects.as_('prospects'),
            *(Sum(getattr(daily, name)).as_(name)
                for name in ['leads', 'qualified', 'agreements']),
            customers.as_('customers'),
            Sum(daily.lost).as_('lost'),
            cls.conversion.sql_cast(
                customers / cls.conversion.sql_cast(prospects)
                ).as_('conversion'),
            cls.average_days_to_customer.sql_cast(cls._average(
                    Sum(daily.days_to_customer), Sum(daily.dated_customers))
                ).as_('average_days_to_customer'),
            ]

    @classmethod
    def _average(cls, total, count):
        """Return the SQL expression of the total divided by the count as
        Avg divides its sum: in NUMERIC on PostgreSQL, in floats on SQLite;
        NULL when the count is 0"""
        type_ = 'REAL' if backend.name == 'sqlite' else 'NUMERIC'
        return Cast(total, type_) / NullIf(count, 0)

    @classmethod
    def _where(cls, tables):
        Context = Pool().get('sale.call.report.context')
        context = Context.report_context()
        daily = tables['daily']
        where = super()._where(tables)
        if context['from_date']:
            where &= daily.date >= context['from_date']
        if context['to_date']:
            where &= daily.date <= context['to_date']
        return where


class ProspectLostReason(ProspectReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.prospect.report.lost_reason'

    reason = fields.Many2One('sale.prospect.lost_reason', "Reason")
    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    prospects = fields.Integer(
        "Prospects", help="The prospects lost in the period.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('prospects', 'DESC'),
            ('reason', 'ASC'),
            ('business_unit', 'ASC NULLS FIRST'),
            ('id', 'ASC'),
            ]

    @classmethod
    def _columns(cls, tables):
        prospect = tables['prospect']
        return [
            Min(prospect.id).as_('id'),
            prospect.lost_reason.as_('reason'),
            prospect.business_unit.as_('business_unit'),
            Count(prospect.id).as_('prospects'),
            ]

    @classmethod
    def _where(cls, tables):
        Context = Pool().get('sale.call.report.context')
        context = Context.report_context()
        prospect = tables['prospect']
        where = super()._where(tables) & (prospect.stage == 'lost')
        if context['from_date']:
            where &= prospect.lost_date >= context['from_date']
        if context['to_date']:
            where &= prospect.lost_date <= context['to_date']
        if not is_prospect_admin():
            # The rows count the prospects of the operator only
            where &= prospect.assigned_operator == Transaction().user
        return where

    @classmethod
    def _group_by(cls, tables):
        prospect = tables['prospect']
        return [prospect.lost_reason, prospect.business_unit]


class OpenCalls(Wizard):
    "Open the calls counted in the selected rows of a call report"
    __name__ = 'sale.call.report.open_calls'
    _readonly = True

    start = StateAction('sale_opportunity_management.act_call_form')

    @classmethod
    def check_access(cls):
        # Before the checks of Tryton, which fail on an unknown model name;
        # proteus creates the session without a model
        name = Transaction().context.get('active_model')
        if name is not None:
            cls.check_report(name)
        super().check_access()

    @classmethod
    def check_report(cls, name):
        "Refuse to open the calls of the records of what is not a call report"
        pool = Pool()
        IrModel = pool.get('ir.model')
        try:
            is_report = issubclass(pool.get(name), CallReportMixin)
        except (KeyError, TypeError):  # unknown or unhashable name
            is_report = False
        if not is_report:
            raise ReportContextError(gettext(
                    'sale_opportunity_management.msg_report_open_calls_model',
                    model=IrModel.get_name(str(name or '')[:100])))

    def do_start(self, action):
        self.check_report(self.model and self.model.__name__)
        action['pyson_domain'] = PYSONEncoder().encode(
            self.model.open_calls_domain(self.records))
        action['domains'] = []
        return action, {}
