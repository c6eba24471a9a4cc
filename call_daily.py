# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from collections import Counter, defaultdict

from sql import Literal, Null
from sql.aggregate import Count, Min

from trytond import backend
from trytond.model import Index, ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .common import INTERESTS, RecordAccessMixin

# Where a call is counted, and what it adds to the counts of its day
KEY = ['company', 'date', 'operator', 'business_unit']
COUNTS = ['calls', *('interest_%s' % i for i, _ in INTERESTS if i),
    'first_calls', 'followup_calls']
# The call fields (and trace fields) that decide where a call is counted
CALL_KEY_FIELDS = {
    'prospect_trace', 'date', 'operator', 'company', 'interest', 'call_type'}
TRACE_KEY_FIELDS = {'business_unit'}


class CallDaily(RecordAccessMixin, ModelSQL):
    """Calls counted per day, operator, business unit and company.

    The reports of calls read these counts instead of the calls: a period of
    90 days is a few thousand rows whatever the number of calls.
    They are kept exact by the calls themselves, in the transaction that
    logs, changes or deletes a call."""
    __name__ = 'sale.call.daily'

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
        # Counted by the calls, never by a client
        for method in ['create', 'write', 'delete', 'copy', 'import_data']:
            cls.__rpc__.pop(method, None)

    @classmethod
    def __register__(cls, module):
        created = not backend.TableHandler.table_exist(cls._table)
        super().__register__(module)
        if created:
            cls.rebuild()

    @classmethod
    def rebuild(cls):
        "Count again every call"
        daily = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*daily.delete())
        cursor.execute(*daily.insert(
                [getattr(daily, c) for c in KEY + COUNTS],
                cls._counts_query()))

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
                *key, *(Count(call.id, filter_=conditions[c]) for c in COUNTS),
                where=where, group_by=key)

    @classmethod
    def counts(cls, calls=None, traces=None):
        """Return the counts per key (company, day, operator, business unit)
        of the calls or of the calls of the traces, given by ids"""
        cursor = Transaction().connection.cursor()
        result = defaultdict(Counter)
        ids, name = (calls, 'calls') if calls is not None else (
            traces, 'traces')
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*cls._counts_query(**{name: list(sub_ids)}))
            for *key, values in _split(cursor):
                result[tuple(key)].update(values)
        return result

    @classmethod
    def add(cls, counts, sign=1):
        "Add (or subtract) counts per key to those of their day"
        daily = cls.__table__()
        cursor = Transaction().connection.cursor()
        for key, values in counts.items():
            values = {c: sign * n for c, n in values.items() if n}
            if not values:
                continue
            where = Literal(True)
            for name, value in zip(KEY, key):
                where &= getattr(daily, name) == (
                    Null if value is None else value)
            # One row of the key: two first calls of a day logged at once
            # may each insert one, which the sums of the reports add up
            cursor.execute(*daily.update(
                    [getattr(daily, c) for c in values],
                    [getattr(daily, c) + n for c, n in values.items()],
                    where=daily.id.in_(daily.select(
                            Min(daily.id), where=where))))
            if not cursor.rowcount:
                cursor.execute(*daily.insert(
                        [getattr(daily, c) for c in KEY + COUNTS],
                        [[*key, *(values.get(c, 0) for c in COUNTS)]]))
            elif values.get('calls', 0) < 0:
                # No row for a day without calls, as there is none from calls
                cursor.execute(*daily.delete(
                        where=where & (daily.calls == 0)))

    @classmethod
    def follow_change(cls, calls=None, traces=None):
        """Return the function that adds to their days the change of the
        counts of the calls (or of the calls of the traces) since now"""
        before = cls.counts(calls=calls, traces=traces)
        return lambda: cls.add(
            _merge(before, cls.counts(calls=calls, traces=traces)))


def _split(cursor):
    "Yield the key and the counts of the rows of _counts_query"
    for row in cursor:
        yield (*row[:len(KEY)], dict(zip(COUNTS, row[len(KEY):])))


def _merge(before, after):
    "Return the difference between the counts after and before"
    result = defaultdict(Counter)
    for key, values in after.items():
        result[key].update(values)
    for key, values in before.items():
        result[key].subtract(values)
    return result


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
