# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from collections import Counter, defaultdict

from sql import Cast, Column, Literal
from sql.aggregate import Count, Sum
from sql.conditionals import Coalesce
from sql.functions import Function

from trytond import backend
from trytond.model import Index, ModelSQL, fields
from trytond.model.fields.date import SQLite_Date
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .common import RecordAccessMixin
from .counts import KeptCountsMixin, merge_counts

# Where a prospect is counted, and what it adds to the counts of its key
KEY = ['company', 'date', 'business_unit', 'operator']
STAGES = [
    ('leads', 'lead'),
    ('qualified', 'qualified'),
    ('agreements', 'agreement'),
    ('customers', 'customer'),
    ('lost', 'lost'),
    ]
COUNTS = ['prospects', *(n for n, _ in STAGES),
    'days_to_customer', 'dated_customers', 'open_traces']
# The prospect fields (and trace fields) whose writes change what is
# counted; the creation date too is counted, which the ORM never writes
PROSPECT_FIELDS = {
    'company', 'business_unit', 'assigned_operator', 'active', 'stage',
    'customer_date'}
TRACE_FIELDS = {'prospect', 'state'}


class JulianDay(Function):
    "The number of days since the origin of the Julian calendar (SQLite)"
    __slots__ = ()
    _function = 'JULIANDAY'


class ProspectDaily(KeptCountsMixin, RecordAccessMixin, ModelSQL):
    """Active prospects counted per day of creation, business unit, assigned
    operator and company, with their open traces.

    The prospects per operator and the funnel read these counts instead of
    the prospects.  They are kept exact by the prospects and their traces,
    in the transaction that changes them."""
    __name__ = 'sale.prospect.daily'
    _count_key = KEY
    _count_names = COUNTS

    company = fields.Many2One('company.company', "Company", readonly=True)
    date = fields.Date(
        "Date", readonly=True, help="The day the prospects were created.")
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit", readonly=True)
    operator = fields.Many2One('res.user', "Operator", readonly=True)
    prospects = fields.Integer("Prospects", readonly=True)
    leads = fields.Integer("Leads", readonly=True)
    qualified = fields.Integer("Qualified", readonly=True)
    agreements = fields.Integer("Agreements", readonly=True)
    customers = fields.Integer("Customers", readonly=True)
    lost = fields.Integer("Lost", readonly=True)
    days_to_customer = fields.Integer(
        "Days to Customer", readonly=True,
        help="The sum of the days from creation to customer of the "
        "customers with a customer date.")
    dated_customers = fields.Integer(
        "Dated Customers", readonly=True,
        help="The customers with a customer date.")
    open_traces = fields.Integer("Open Traces", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.date, Index.Range()),
                include=[t.business_unit, t.operator, t.company]))

    @classmethod
    def _days_between(cls, start, end):
        "Return the SQL expression of the days from the start to the end date"
        if backend.name == 'sqlite':
            return JulianDay(end) - JulianDay(SQLite_Date(start))
        return end - Cast(start, 'DATE')

    @classmethod
    def _columns(cls, prospect, values=None):
        """Return the counted columns of the prospect table by name, those
        of values replaced by their value"""
        Prospect = Pool().get('sale.prospect')
        columns = {n: Column(prospect, n)
            for n in sorted(PROSPECT_FIELDS | {'create_date'})}
        for name in PROSPECT_FIELDS & (values or {}).keys():
            field = Prospect._fields[name]
            columns[name] = field.sql_cast(
                Literal(field.sql_format(values[name])))
        return columns

    @classmethod
    def _key(cls, columns):
        "Return the expressions of the key of the prospect columns by name"
        return {
            'company': columns['company'],
            'date': cls.date.sql_cast(columns['create_date']),
            'business_unit': columns['business_unit'],
            'operator': columns['assigned_operator'],
            }

    @classmethod
    def _open_traces(cls, prospects=None):
        """Return the query of the number of open traces per prospect: of
        all the prospects or of the ids prospects"""
        Trace = Pool().get('sale.prospect_trace')
        trace = Trace.__table__()
        where = trace.state == 'open'
        if prospects is not None:
            where &= fields.SQL_OPERATORS['in'](trace.prospect, prospects)
        return trace.select(
            trace.prospect, Count(trace.id).as_('traces'),
            where=where, group_by=[trace.prospect])

    @classmethod
    def _prospect_counts(cls, prospect, columns, open_):
        """Return the count columns of the rows of the prospect table, of
        the prospect columns, joined to their open traces"""
        stage = columns['stage']
        customer = stage == 'customer'
        days = cls._days_between(
            columns['create_date'], columns['customer_date'])
        return [
            Count(prospect.id).as_('prospects'),
            *(Count(prospect.id, filter_=stage == value).as_(name)
                for name, value in STAGES),
            cls.days_to_customer.sql_cast(
                Coalesce(Sum(days, filter_=customer), 0)
                ).as_('days_to_customer'),
            Count(days, filter_=customer).as_('dated_customers'),
            cls.open_traces.sql_cast(Sum(Coalesce(open_.traces, 0))
                ).as_('open_traces'),
            ]

    @classmethod
    def _counts_query(cls, traces=None):
        """Return the query of the counts per key: of all the active
        prospects with their open traces, or of the open traces of the ids
        traces alone"""
        if traces is not None:
            return cls._traces_query(traces)
        Prospect = Pool().get('sale.prospect')
        prospect = Prospect.__table__()
        open_ = cls._open_traces()
        columns = cls._columns(prospect)
        key = cls._key(columns)
        return prospect.join(
            open_, 'LEFT', condition=open_.prospect == prospect.id
            ).select(
                *(e.as_(n) for n, e in key.items()),
                *cls._prospect_counts(prospect, columns, open_),
                where=prospect.active == Literal(True),
                group_by=list(key.values()))

    @classmethod
    def _traces_query(cls, traces):
        "Return the query of the open traces of the ids per key"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        Trace = pool.get('sale.prospect_trace')
        prospect, trace = Prospect.__table__(), Trace.__table__()
        key = cls._key(cls._columns(prospect))
        return trace.join(prospect, condition=trace.prospect == prospect.id
            ).select(
                *(e.as_(n) for n, e in key.items()),
                Count(trace.id).as_('open_traces'),
                where=fields.SQL_OPERATORS['in'](trace.id, traces)
                & (trace.state == 'open')
                & (prospect.active == Literal(True)),
                group_by=list(key.values()))

    @classmethod
    def _by_prospect(cls, prospects, values=None):
        """Return for each id of prospects whether it is active, its key and
        its counts, as the values would make them"""
        Prospect = Pool().get('sale.prospect')
        cursor = Transaction().connection.cursor()
        result = {}
        for sub_ids in grouped_slice(prospects, backend.MAX_QUERY_PARAMS):
            sub_ids = list(sub_ids)
            prospect = Prospect.__table__()
            open_ = cls._open_traces(sub_ids)
            columns = cls._columns(prospect, values)
            key = cls._key(columns)
            cursor.execute(*prospect.join(
                    open_, 'LEFT', condition=open_.prospect == prospect.id
                    ).select(
                    prospect.id.as_('id'), columns['active'].as_('active'),
                    *(e.as_(n) for n, e in key.items()),
                    *cls._prospect_counts(prospect, columns, open_),
                    where=fields.SQL_OPERATORS['in'](prospect.id, sub_ids),
                    group_by=[prospect.id, *(c for c in columns.values()
                            if isinstance(c, Column))]))
            for (id_, active, *key), counts in cls._rows(
                    cursor, ['id', 'active', *KEY]):
                result[id_] = (active, tuple(key), counts)
        return result

    @classmethod
    def _per_key(cls, prospects, traces=True):
        """Return the counts per key of the active ones of prospects, as
        _by_prospect returns them, with their open traces or without"""
        result = defaultdict(Counter)
        for active, key, counts in prospects.values():
            if active:
                result[key].update(
                    counts if traces else {**counts, 'open_traces': 0})
        return result

    @classmethod
    def add_prospects(cls, prospects, sign=1):
        """Add (or subtract) the counts of the ids prospects, without their
        open traces: the traces created or deleted with them count
        themselves"""
        cls.add(
            cls._per_key(cls._by_prospect(prospects), traces=False),
            sign=sign)

    @classmethod
    def count_write(cls, prospects, values):
        """Move the counts of the ids prospects and their open traces to
        where the values make them, before they are written: the writes
        that follow (the segments filling the business unit) and the traces
        that the write creates, changes or deletes (from a form) count
        themselves"""
        cls.add(merge_counts(
                cls._per_key(cls._by_prospect(prospects)),
                cls._per_key(cls._by_prospect(prospects, values))))


class Prospect(metaclass=PoolMeta):
    __name__ = 'sale.prospect'

    @classmethod
    def on_modification(cls, mode, prospects, field_names=None):
        ProspectDaily = Pool().get('sale.prospect.daily')
        # Counted before the writes that follow a creation (the segments
        # filling the business unit), which move what is counted
        if mode in {'create', 'delete'}:
            ProspectDaily.add_prospects(
                [p.id for p in prospects], sign=1 if mode == 'create' else -1)
        super().on_modification(mode, prospects, field_names=field_names)

    @classmethod
    def on_write(cls, prospects, values):
        ProspectDaily = Pool().get('sale.prospect.daily')
        callbacks = super().on_write(prospects, values)
        if PROSPECT_FIELDS & values.keys():
            ProspectDaily.count_write([p.id for p in prospects], values)
        return callbacks


class ProspectTrace(metaclass=PoolMeta):
    __name__ = 'sale.prospect_trace'

    @classmethod
    def on_modification(cls, mode, traces, field_names=None):
        ProspectDaily = Pool().get('sale.prospect.daily')
        if mode in {'create', 'delete'}:
            ProspectDaily.add(
                ProspectDaily.counts(traces=[t.id for t in traces]),
                sign=1 if mode == 'create' else -1)
        super().on_modification(mode, traces, field_names=field_names)

    @classmethod
    def on_write(cls, traces, values):
        ProspectDaily = Pool().get('sale.prospect.daily')
        callbacks = super().on_write(traces, values)
        if not TRACE_FIELDS & values.keys():
            return callbacks
        return callbacks + [
            ProspectDaily.follow_change(traces=[t.id for t in traces])]
