# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"The targets of the operators and the report comparing them to their work"
import datetime as dt

from dateutil.relativedelta import relativedelta
from sql import Literal, Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case, Coalesce
from sql.operators import Equal

from trytond.model import Exclude, ModelSQL, ModelView, fields
from trytond.pool import Pool

from .common import RecordAccessMixin
from .report import ReportMixin


class Target(RecordAccessMixin, ModelSQL, ModelView):
    __name__ = 'sale.call.target'

    operator = fields.Many2One(
        'res.user', "Operator", required=True, ondelete='CASCADE')
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit", ondelete='CASCADE',
        help="The business unit of the calls and agreements counted.\n"
        "Leave empty to count those of all business units.")
    calls_per_day = fields.Integer(
        "Calls per Day",
        domain=['OR',
            ('calls_per_day', '=', None),
            ('calls_per_day', '>=', 0),
            ],
        help="The calls to make on each calling day.")
    answered_per_day = fields.Integer(
        "Answered Calls per Day",
        domain=['OR',
            ('answered_per_day', '=', None),
            ('answered_per_day', '>=', 0),
            ],
        help="The answered calls to reach on each calling day.")
    agreements_per_month = fields.Integer(
        "Agreements per Month",
        domain=['OR',
            ('agreements_per_month', '=', None),
            ('agreements_per_month', '>=', 0),
            ],
        help="The agreements to sign each month.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('operator_unique',
                Exclude(t, (t.operator, Equal),
                    (Coalesce(t.business_unit, -1), Equal)),
                'sale_opportunity_management.msg_call_target_unique'),
            ]
        cls._order = [
            ('operator', 'ASC'),
            ('business_unit', 'ASC NULLS FIRST'),
            ('id', 'ASC'),
            ]

    def get_rec_name(self, name):
        if self.business_unit:
            return '%s (%s)' % (
                self.operator.rec_name, self.business_unit.rec_name)
        return self.operator.rec_name

    @classmethod
    def search_rec_name(cls, name, clause):
        return ['OR',
            ('operator.rec_name',) + tuple(clause[1:]),
            ('business_unit.rec_name',) + tuple(clause[1:]),
            ]


class TargetReport(ReportMixin, ModelSQL, ModelView):
    __name__ = 'sale.call.report.target'

    operator = fields.Many2One('res.user', "Operator")
    business_unit = fields.Many2One('sale.business_unit', "Business Unit")
    working_days = fields.Integer(
        "Working Days", help="The calling days of the period.")
    target_calls = fields.Float(
        "Target Calls", digits=(16, 1),
        help="The calls per day times the working days.")
    calls = fields.Integer("Calls")
    calls_achievement = fields.Float(
        "Calls Achievement", digits=(1, 4),
        help="The calls made over their target.")
    target_answered = fields.Float(
        "Target Answered", digits=(16, 1),
        help="The answered calls per day times the working days.")
    answered = fields.Integer("Answered")
    answered_achievement = fields.Float(
        "Answered Achievement", digits=(1, 4),
        help="The answered calls over their target.")
    target_agreements = fields.Float(
        "Target Agreements", digits=(16, 1),
        help="The agreements per month, in proportion to the working days "
        "of each month in the period.")
    agreements = fields.Integer(
        "Agreements", help="The prospects of the operator whose agreement "
        "was signed in the period.")
    agreements_achievement = fields.Float(
        "Agreements Achievement", digits=(1, 4),
        help="The agreements signed over their target.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('operator', 'ASC'),
            ('business_unit', 'ASC NULLS FIRST'),
            ('id', 'ASC'),
            ]

    @classmethod
    def calling_days(cls, start, end):
        "Return the number of calling days from start to end included"
        Configuration = Pool().get('sale.prospect.configuration')
        days = {int(d) for d in Configuration(1).call_days or []}
        days = days or set(range(7))
        count, day = 0, start
        while day <= end:
            count += day.weekday() in days
            day += dt.timedelta(days=1)
        return count

    @classmethod
    def months(cls, start, end):
        """Return the months from start to end included, each month counted
        in proportion to its working days in the period"""
        months = 0
        first = start.replace(day=1)
        while first <= end:
            last = first + relativedelta(day=31)
            in_month = cls.calling_days(first, last)
            if in_month:
                months += cls.calling_days(
                    max(first, start), min(last, end)) / in_month
            first += relativedelta(months=1)
        return months

    @classmethod
    def table_query(cls):
        # The achievements divide the columns of the inner query
        query = super().table_query()
        return query.select(
            *(getattr(query, n) for n in [
                    'id', 'operator', 'business_unit', 'working_days',
                    'target_calls', 'calls', 'target_answered', 'answered',
                    'target_agreements', 'agreements']),
            *(cls._achievement(
                    getattr(query, actual), getattr(query, 'target_' + actual)
                    ).as_(actual + '_achievement')
                for actual in ['calls', 'answered', 'agreements']))

    @classmethod
    def _achievement(cls, actual, target):
        Float = cls.calls_achievement
        return Case(
            (target > 0, Float.sql_cast(actual) / Float.sql_cast(target)),
            else_=Null)

    @classmethod
    def _joins(cls):
        Target = Pool().get('sale.call.target')
        target = Target.__table__()
        return target, {'target': target}

    @classmethod
    def _columns(cls, tables):
        pool = Pool()
        Context = pool.get('sale.call.report.context')
        context = Context.report_context()
        target = tables['target']
        start, end = context['from_date'], context['to_date']
        if start and end:
            days = cls.calling_days(start, end)
            months = cls.months(start, end)
        else:
            days = months = None
        Float = cls.target_calls

        def scaled(per, factor):
            if factor is None:
                return Float.sql_cast(Null)
            return Float.sql_cast(Float.sql_cast(per) * factor)
        return [
            target.id.as_('id'),
            target.operator.as_('operator'),
            target.business_unit.as_('business_unit'),
            cls.working_days.sql_cast(
                Literal(days) if days is not None else Null).as_(
                'working_days'),
            scaled(target.calls_per_day, days).as_('target_calls'),
            cls._calls(target).as_('calls'),
            scaled(target.answered_per_day, days).as_('target_answered'),
            cls._calls(target, answered=True).as_('answered'),
            scaled(target.agreements_per_month, months).as_(
                'target_agreements'),
            cls._agreements(target, start, end).as_('agreements'),
            ]

    @classmethod
    def _calls(cls, target, answered=False):
        "Return the query of the calls of the target's operator in the period"
        CallDaily = Pool().get('sale.call.daily')
        daily = CallDaily.__table__()
        where = (cls._calls_in_period(daily)
            & (daily.operator == target.operator)
            & ((target.business_unit == Null)
                | (daily.business_unit == target.business_unit)))
        count = Sum(daily.calls)
        if answered:
            count -= Sum(daily.interest_0)
        return daily.select(Coalesce(count, 0), where=where)

    @classmethod
    def _agreements(cls, target, start, end):
        "Return the query of the agreements of the operator in the period"
        Prospect = Pool().get('sale.prospect')
        prospect = Prospect.__table__()
        where = ((prospect.assigned_operator == target.operator)
            & (prospect.active == Literal(True))
            & (prospect.agreement_date != Null)
            & cls._company_filter(prospect.company)
            & ((target.business_unit == Null)
                | (prospect.business_unit == target.business_unit)))
        if start:
            where &= prospect.agreement_date >= start
        if end:
            where &= prospect.agreement_date <= end
        return prospect.select(Count(prospect.id), where=where)

    @classmethod
    def _where(cls, tables):
        target = tables['target']
        return cls._context_filter(target.operator, target.business_unit)
