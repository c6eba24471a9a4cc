# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from sql import Literal
from sql.aggregate import Count

from trytond.model import Index, ModelSQL, fields
from trytond.pool import Pool, PoolMeta

from .common import INTERESTS, RecordAccessMixin
from .counts import KeptCountsMixin

# Where a call is counted, and what it adds to the counts of its day
KEY = ['company', 'date', 'operator', 'business_unit']
COUNTS = ['calls', *('interest_%s' % i for i, _ in INTERESTS if i),
    'first_calls', 'followup_calls']
# The call fields (and trace fields) that decide where a call is counted
CALL_KEY_FIELDS = {
    'prospect_trace', 'date', 'operator', 'company', 'interest', 'call_type'}
TRACE_KEY_FIELDS = {'business_unit'}


class CallDaily(KeptCountsMixin, RecordAccessMixin, ModelSQL):
    """Calls counted per day, operator, business unit and company.

    The reports of calls read these counts instead of the calls: a period of
    90 days is a few thousand rows whatever the number of calls.
    They are kept exact by the calls themselves, in the transaction that
    logs, changes or deletes a call."""
    __name__ = 'sale.call.daily'
    _count_key = KEY
    _count_names = COUNTS

    company = fields.Many2One('company.company', "Company", readonly=True)
    date = fields.Date("Date", required=True, readonly=True)
    operator = fields.Many2One('res.user', "Operator", readonly=True)
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit", readonly=True)
    calls = fields.Integer("Calls", readonly=True)
    interest_0 = fields.Integer("No Answer", readonly=True)
    interest_1 = fields.Integer("Not Interested", readonly=True)
    interest_2 = fields.Integer("Medium Interest", readonly=True)
    interest_3 = fields.Integer("High Interest", readonly=True)
    first_calls = fields.Integer("First Calls", readonly=True)
    followup_calls = fields.Integer("Follow-up Calls", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.date, Index.Range()),
                    include=[t.operator, t.business_unit, t.company]),
                Index(t, (t.operator, Index.Range()),
                    (t.date, Index.Range())),
                })

    @classmethod
    def _counts_query(cls, calls=None, traces=None):
        """Return the query of the counts of calls per key: all the calls,
        those of the ids calls or those of the traces"""
        pool = Pool()
        Call = pool.get('sale.call')
        Trace = pool.get('sale.prospect_trace')
        call, trace = Call.__table__(), Trace.__table__()
        in_ = fields.SQL_OPERATORS['in']
        where = Literal(True)
        if calls is not None:
            where &= in_(call.id, calls)
        if traces is not None:
            where &= in_(call.prospect_trace, traces)
        conditions = {
            'calls': None,
            **{'interest_%s' % i: call.interest == i
                for i, _ in INTERESTS if i},
            'first_calls': call.call_type == 'first_call',
            'followup_calls': call.call_type == 'followup_call',
            }
        key = [call.company, call.date, call.operator, trace.business_unit]
        return call.join(trace, condition=call.prospect_trace == trace.id
            ).select(
                *(k.as_(n) for k, n in zip(key, KEY)),
                *(Count(call.id, filter_=conditions[c]).as_(c)
                    for c in COUNTS),
                where=where, group_by=key)


class Call(metaclass=PoolMeta):
    __name__ = 'sale.call'

    @classmethod
    def on_modification(cls, mode, calls, field_names=None):
        CallDaily = Pool().get('sale.call.daily')
        super().on_modification(mode, calls, field_names=field_names)
        if mode == 'create':
            CallDaily.add(CallDaily.counts(calls=[c.id for c in calls]))
        elif mode == 'delete':
            CallDaily.add(
                CallDaily.counts(calls=[c.id for c in calls]), sign=-1)

    @classmethod
    def on_write(cls, calls, values):
        CallDaily = Pool().get('sale.call.daily')
        callbacks = super().on_write(calls, values)
        if not CALL_KEY_FIELDS & values.keys():
            return callbacks
        return callbacks + [
            CallDaily.follow_change(calls=[c.id for c in calls])]


class ProspectTrace(metaclass=PoolMeta):
    __name__ = 'sale.prospect_trace'

    @classmethod
    def on_write(cls, traces, values):
        CallDaily = Pool().get('sale.call.daily')
        callbacks = super().on_write(traces, values)
        if not TRACE_KEY_FIELDS & values.keys():
            return callbacks
        return callbacks + [
            CallDaily.follow_change(traces=[t.id for t in traces])]
