# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Measure phase of tools/bench, run once with python and once with
python -O: each report, the trace list, the search of Next call and the
logging of a call, against hand-written SQL; the items go to --out (JSON).

trytond is imported inside the functions, once start_pool has configured
it."""
import datetime as dt
import functools
import json
import math
import random
import signal
import statistics
import sys
import time

from . import queries
from .common import (DB_NAME, LIMIT, REPORT_TARGET, TRACE_TARGET, log,
    start_pool)
from .report import ms

DAYS = 90  # the period of the reports


def main(args):
    signal.signal(signal.SIGALRM, too_slow)
    bench = Bench(args)
    rng = random.Random(args.seed)
    for report in queries.hand_queries(
            bench.from_date, bench.today, dt.datetime.now()):
        measure_report(bench, report)
    open_traces = bench.open_traces()
    measure_trace_read(bench, rng, open_traces)
    measure_never_called(bench, open_traces)
    measure_logging(bench, rng, open_traces)
    bench.save(args.out)
    return 0


class TooSlow(Exception):
    pass


def too_slow(signum, frame):
    raise TooSlow


def timed(func, repeat, budget, limit):
    """Return the times of the runs of func and its result.

    One warm-up run first; a run slower than a third of the budget is not
    repeated (it is the measure), else runs repeat up to `repeat` times, at
    least 3, while they stay within the budget.  A run longer than `limit`
    seconds is interrupted: the times are then None."""
    from trytond import backend

    def run():
        # PostgreSQL cancels the statements first (the transactions have
        # a statement timeout), the alarm stops Python
        signal.setitimer(signal.ITIMER_REAL, limit + 5)
        try:
            start = time.perf_counter()
            result = func()
            return time.perf_counter() - start, result
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        first, result = run()
        if first > budget / 3:
            return [first], result
        times = []
        while len(times) < repeat and (len(times) < 3 or sum(times) < budget):
            duration, result = run()
            times.append(duration)
        return times, result
    except (TooSlow, backend.DatabaseTimeoutError):
        return None, None


def median(times):
    return statistics.median(times) if times else None


def totals(rows, columns):
    """Return the number of rows and the sum of each column (selection
    values as numbers, dates as ordinals, text by length)"""
    sums = {}
    for column in columns:
        total = 0
        for row in rows:
            value = row[column]
            if value is None:
                continue
            if isinstance(value, (dt.date, dt.datetime)):
                value = value.toordinal()
            elif isinstance(value, str):
                value = int(value) if value.isdigit() else len(value)
            elif not isinstance(value, int):
                value = round(float(value), 4)
            total += value
        sums[column] = round(total, 2) if isinstance(total, float) else total
    return {'rows': len(rows), **sums}


def compared(kind, label, target, sql, orm, columns):
    """The item of a measure of the ORM against SQL, from the times and
    rows that timed() returned for each"""
    (sql_times, sql_rows), (orm_times, orm_rows) = sql, orm
    orm_totals = totals(orm_rows, columns) if orm_times else None
    sql_totals = totals(sql_rows, columns)
    return {
        'kind': kind, 'label': label, 'target': target,
        'rows': len(sql_rows),
        'sql': statistics.median(sql_times),
        'orm': median(orm_times),
        'runs': len(orm_times) if orm_times else 0,
        'orm_totals': orm_totals, 'sql_totals': sql_totals,
        'same': orm_totals == sql_totals,
        }


def show(item):
    "Log the item as it is measured"
    if item['kind'] == 'log':
        log("  %-52s p95 %9s ms" % (item['label'], ms(item['orm'])))
    elif item['orm'] is None:
        log("  %-52s SQL %9s  ORM > %d s" % (
                item['label'], ms(item['sql']), LIMIT))
    else:
        log("  %-52s SQL %9s  ORM %9s ms  ×%.2f  %s" % (
                item['label'], ms(item['sql']), ms(item['orm']),
                item['orm'] / item['sql'],
                'same totals' if item['same'] else 'TOTALS DIFFER'))


class Bench:
    "The pool, the administrator, the period and the items measured"

    def __init__(self, args):
        self.args = args
        self.pool = start_pool(args.config)
        self.today = dt.date.today()
        self.from_date = self.today - dt.timedelta(days=DAYS)
        self.items = []
        self.explain = {}
        self.contexts = {}
        from trytond.transaction import Transaction
        with Transaction().start(DB_NAME, 0, readonly=True):
            User = self.pool.get('res.user')
            admin, = User.search([('login', '=', 'admin')])
        self.admin = admin.id
        self.admin_context = self.context_of(self.admin)

    def context_of(self, user):
        "The context the clients send for the user"
        from trytond.transaction import Transaction
        if user not in self.contexts:
            with Transaction().start(DB_NAME, user, readonly=True):
                User = self.pool.get('res.user')
                self.contexts[user] = User.get_preferences(context_only=True)
        return self.contexts[user]

    def reading(self, context=None, user=None):
        "A read-only transaction with a statement timeout (admin's default)"
        from trytond.transaction import Transaction
        return Transaction().start(DB_NAME,
            self.admin if user is None else user, readonly=True,
            context=context, timeout=LIMIT)

    def run_sql(self, query, params):
        with self.reading() as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute(query, params)
            names = [d.name for d in cursor.description]
            return [dict(zip(names, r)) for r in cursor]

    def add(self, item):
        self.items.append(item)
        show(item)

    def compare(self, label, sql, orm, columns):
        "Time sql and orm (functions) and add the item"
        args = self.args
        sql = timed(sql, args.repeat, args.budget, LIMIT)
        orm = timed(orm, args.repeat, args.budget, LIMIT)
        self.add(compared('read', label, TRACE_TARGET, sql, orm, columns))

    def open_traces(self):
        "The (id, operator) of the open traces"
        from trytond.transaction import Transaction
        with Transaction().start(DB_NAME, self.admin, readonly=True) as t:
            cursor = t.connection.cursor()
            cursor.execute(
                "SELECT t.id, p.assigned_operator FROM sale_prospect_trace t "
                "JOIN sale_prospect p ON p.id = t.prospect "
                "WHERE t.state = 'open' ORDER BY t.id")
            return cursor.fetchall()

    def save(self, path):
        with open(path, 'w') as f:
            json.dump({
                    'items': self.items, 'explain': self.explain,
                    'from_date': str(self.from_date),
                    'to_date': str(self.today),
                    'optimize': sys.flags.optimize,
                    }, f, default=str)


# --- the reports -----------------------------------------------------------

def measure_report(bench, report):
    """Time the hand-written SQL, the report's table_query run bare, the
    ORM's search_read and the clients' search then read"""
    Model = bench.pool.get(report['model'])
    context = dict(bench.admin_context,
        from_date=bench.from_date, to_date=bench.today)
    if report['period']:
        context['period'] = report['period']
    limit = report['limit']
    fields = list_view_fields(bench, Model, context)
    orm = functools.partial(search_read, bench, Model, context, fields, limit)
    client = functools.partial(
        search_then_read, bench, Model, context, fields, limit)
    args = bench.args

    def run(func):
        return timed(func, args.repeat, args.budget, LIMIT)
    sql = run(functools.partial(
            bench.run_sql, report['query'], report['params']))
    bare = limit is None and not sys.flags.optimize  # same SQL either way
    query_times = run(functools.partial(
            table_query, bench, Model, context))[0] if bare else None
    orm_measure = run(orm)
    client_times = run(client)[0]
    item = compared('report', report['label'], REPORT_TARGET, sql,
        orm_measure, report['columns'])
    item.update({
            'query': median(query_times),
            'query_timeout': bool(bare and not query_times),
            'client': median(client_times),
            })
    bench.add(item)
    if args.explain and orm_measure[0]:
        bench.explain[report['label']] = explain(bench, orm)


def list_view_fields(bench, Model, context):
    with bench.reading(context):
        return list(Model.fields_view_get(view_type='tree')['fields'])


def search_read(bench, Model, context, fields, limit):
    from trytond.transaction import check_access
    with bench.reading(context):
        with check_access():
            return Model.search_read([], limit=limit,
                fields_names=list(fields))


def search_then_read(bench, Model, context, fields, limit):
    "As the clients list records: search, then read, in two calls"
    from trytond.transaction import check_access
    with bench.reading(context):
        with check_access():
            ids = list(map(int, Model.search([], limit=limit)))
    with bench.reading(context):
        with check_access():
            return Model.read(ids, list(fields))


def table_query(bench, Model, context):
    with bench.reading(context) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute(*Model.table_query())
        return cursor.fetchall()


def explain(bench, orm):
    "EXPLAIN ANALYZE of each SELECT the ORM runs in orm()"
    from trytond.transaction import Transaction
    with QueryLog() as querylog:
        orm()
    plans = []
    with Transaction().start(DB_NAME, bench.admin, readonly=True) as t:
        cursor = t.connection.cursor()
        for q in querylog.queries:
            if not q.lstrip().upper().startswith('SELECT'):
                continue
            cursor.execute('EXPLAIN (ANALYZE, BUFFERS) ' + q)
            plans.append(
                (q if len(q) < 3000 else q[:3000] + ' …') + '\n'
                + '\n'.join(r[0] for r in cursor))
    return plans


class QueryLog:
    "Collect the SQL the ORM runs (trytond logs it at DEBUG level)"

    def __init__(self):
        import logging
        self.queries = []
        self.logger = logging.getLogger('trytond.backend.postgresql.database')
        self.handler = logging.Handler()
        self.handler.emit = lambda record: self.queries.append(
            record.getMessage())

    def __enter__(self):
        import logging
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)
        self.logger.propagate, self.propagate = False, self.logger.propagate
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        self.logger.propagate = self.propagate


# --- the trace list, Next call, logging a call -----------------------------

def measure_trace_read(bench, rng, open_traces):
    "current_interest, call_count, last_call_date of 1,000 open traces"
    from trytond.transaction import check_access
    trace_ids = [t for t, _ in rng.sample(open_traces, 1000)]
    Trace = bench.pool.get('sale.prospect_trace')
    fields = ['current_interest', 'call_count', 'last_call_date']

    def orm():
        with bench.reading(bench.admin_context):
            with check_access():
                return Trace.read(list(trace_ids), list(fields))

    def sql():
        return bench.run_sql(queries.TRACE, (trace_ids, trace_ids))
    bench.compare('sale.prospect_trace read 1000', sql, orm, fields)


def measure_never_called(bench, open_traces):
    """Next call when nothing is due: the oldest open trace never called of
    the operator with the most open traces, searched as Next Call does"""
    from trytond.transaction import check_access
    Trace = bench.pool.get('sale.prospect_trace')
    busiest = statistics.mode(o for _, o in open_traces if o)
    context = bench.context_of(busiest)
    never_called = [
        ('operator', '=', busiest), ('state', '=', 'open'),
        ('next_call', '=', None), ('current_interest', '=', None)]

    def orm():
        with bench.reading(context, user=busiest):
            with check_access():
                return [{'id': t.id} for t in Trace.search(
                        never_called, order=[('id', 'ASC')], limit=1)]

    def sql():
        return bench.run_sql(queries.NEVER_CALLED, (busiest,))
    bench.compare('sale.prospect_trace never called (next call)', sql, orm,
        ['id'])


def measure_logging(bench, rng, open_traces):
    """The 95th percentile of Call.create by the operator of the trace,
    with access checks on, committed, like RPC"""
    from trytond.transaction import Transaction, check_access
    Call = bench.pool.get('sale.call')
    candidates = [t for t in open_traces if t[1]]
    picked = rng.sample(candidates, bench.args.logs + 10)
    times = []
    for n, (trace_id, operator) in enumerate(picked):
        context = bench.context_of(operator)
        start = time.perf_counter()
        with Transaction().start(DB_NAME, operator,
                context=context) as transaction:
            with check_access():
                Call.create([{
                            'prospect_trace': trace_id,
                            'interest': rng.choice('0123'),
                            'description': 'Benchmark call',
                            }])
            transaction.commit()
        if n >= 10:  # the first ones warm the caches up
            times.append(time.perf_counter() - start)
    times.sort()
    bench.add({
            'kind': 'log',
            'label': 'sale.call create (p95 of %d)' % len(times),
            'rows': len(times),
            'orm': times[math.ceil(0.95 * len(times)) - 1],
            'median': statistics.median(times),
            })
