# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Measure phase of tools/bench: each screen through a real trytond over
JSON-RPC, with the requests of the web client (rpc.py), beside the
hand-written SQL giving the same rows (queries.py), on the same database.

A screen's time is the sum of its requests, one after the other as sao
sends them; the median of the runs after a warm-up run."""
import datetime as dt
import math
import os
import random
import statistics
import time

import psycopg

from . import fill, queries, rpc
from .common import DB_NAME, LIMIT, PASSWORD, log
from .report import ms

DAYS = 90  # the period of the reports
LOGGERS = 10  # operators logging calls


class Bench:
    "The server's clients, the SQL connection, the period and the items"

    def __init__(self, args, url, team, admin_password):
        self.args = args
        self.url = url
        self.team = team
        self.today = dt.date.today()
        self.from_date = self.today - dt.timedelta(days=DAYS)
        self.admin = rpc.login(url, 'admin', admin_password)
        self.operators = {}
        self.items = []
        self.screens = {}  # label: how to replay it (for --explain)
        self.sql = psycopg.connect(
            os.environ['TRYTOND_DATABASE_URI'] + DB_NAME, autocommit=True)
        self.sql.execute("SET statement_timeout = %d" % (LIMIT * 1000))

    def operator(self, index):
        "The client of the operator (logged in once)"
        if index not in self.operators:
            self.operators[index] = rpc.login(
                self.url, self.team['logins'][index], PASSWORD)
        return self.operators[index]

    def run_sql(self, query, params=()):
        cursor = self.sql.execute(query, params)
        names = [d.name for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor]

    def repeat(self, func):
        """Return the times of the runs of func() (each returns its time and
        its result) and the last result: a warm-up, then up to --repeat runs
        within the --budget, or the warm-up alone when it took more than a
        third of it"""
        first, result = func()
        if first > self.args.budget / 3:
            return [first], result
        times = []
        while len(times) < self.args.repeat and (
                len(times) < 3 or sum(times) < self.args.budget):
            duration, result = func()
            times.append(duration)
        return times, result

    def attempt(self, func, default=None):
        """Return func(), or (None, default) when a request or a query
        lasted longer than the limit (or failed)"""
        try:
            return func()
        except (rpc.harness.RPCError, OSError, psycopg.Error) as error:
            log("  failed: %s" % str(error)[:300])
            return None, default

    def add(self, item):
        self.items.append(item)
        show(item)


def show(item):
    "Log the item as it is measured"
    sql = ' SQL %8s' % ms(item['sql']) if item.get('sql') else ' ' * 13
    same = {None: '', True: 'same rows', False: 'ROWS DIFFER'}[item['same']]
    log("  %-44s%s  screen %8s ms  %s  %s" % (item['label'], sql,
            ms(item['screen']), requests_text(item['requests']), same))


def requests_text(requests):
    return ' + '.join('%s %s' % (n, ms(t)) for n, t in requests)


def main(bench):
    create_targets(bench)
    for report in queries.REPORTS:
        measure_report(bench, *report)
    # since the first prospect: the fill creates them all before the calls
    first_day = bench.today - dt.timedelta(
        days=fill.HISTORY + fill.PROSPECTS_BEFORE)
    measure_report(bench, *queries.FUNNEL_REPORT, from_date=first_day)
    measure_report(bench, *queries.LOST_REASON_REPORT, from_date=first_day)
    # a month ended: the traces are found from their calls of the month
    last_day = bench.today.replace(day=1) - dt.timedelta(days=1)
    measure_report(bench, *queries.INTEREST_ENDED_REPORT,
        from_date=last_day.replace(day=1), to_date=last_day)
    # 30 days ended a month ago: many of their traces were called since,
    # whatever the day of the month the benchmark runs
    measure_report(bench, 'interest by trace (31 to 60 days ago)',
        *queries.INTEREST_ENDED_REPORT[1:],
        from_date=bench.today - dt.timedelta(days=60),
        to_date=bench.today - dt.timedelta(days=31))
    measure_trace_list(bench, 'traces (open), operator', 1)
    measure_trace_list(bench, 'traces (open), administrator', None)
    measure_prospect_list(bench, 'prospects (all), operator', 1)
    measure_prospect_list(bench, 'prospects (all), administrator', None)
    measure_prospect_search(bench, 'prospects: search by name, '
        'administrator')
    measure_call_list(bench, 'calls (today), operator', 1)
    measure_call_list(bench, 'calls (today), administrator', None)
    measure_next_call(bench, 'next call (a call due)', 1)
    measure_next_call(bench, 'next call (nothing due)', 0)
    rng = random.Random(bench.args.seed)
    measure_screen_logs(bench, rng,
        "operator's screen: no answer, next trace", 'no_answer',
        lambda rng: {})
    measure_screen_logs(bench, rng,
        "operator's screen: answered, call in two hours, next trace",
        'in_two_hours', lambda rng: {
            'interest': rng.choice('123'), 'description': 'Benchmark call'})
    traces = open_traces(bench)
    measure_log_wizard(bench, rng, traces)
    measure_log_create(bench, rng, traces)
    return bench.items


def timed_sql(bench, steps):
    """Time the queries of steps, a list of (query, params or a function of
    the previous rows giving them); return the time and the rows of each"""
    start = time.perf_counter()
    results = []
    for query, params in steps:
        if callable(params):
            params = params(results)
            if params is None:
                results.append([])
                continue
        results.append(bench.run_sql(query, params))
    return time.perf_counter() - start, results


def median_requests(runs):
    """The median time of each kind of request over the runs (a run may
    lack some: a trace without contacts reads no contacts)"""
    names = []
    for run in runs:
        names.extend(n for n, _ in run if n not in names)
    return [(name, statistics.median(
                sum(t for n, t in run if n == name) for run in runs))
        for name in names]


# --- lists ------------------------------------------------------------------

def measure_list(bench, label, screen, sql_steps, columns, details=0):
    """Time the list screen and its SQL: sql_steps give the page of rows,
    their count when the page is full and, at index details, the rows
    read"""
    sql_times, sql_results = bench.attempt(
        lambda: bench.repeat(lambda: timed_sql(bench, sql_steps)))
    runs = []

    def open_screen():
        times, ids, count, rows = screen.open()
        runs.append(times)
        return sum(t for _, t in times), (ids, count, rows)
    times, (ids, count, rows) = bench.attempt(
        lambda: bench.repeat(open_screen), default=([], 0, []))
    same = None
    if times and sql_times:
        page, counted = sql_results[:2]
        sql_count = counted[0]['count'] if counted else len(page)
        same = count == sql_count and same_rows(
            ids, rows, page, sql_results[details], columns)
    bench.screens[label] = {'kind': 'list', 'model': screen.model,
        'user': screen.client.user_id, 'context': screen.context,
        'domain': screen.domain, 'limit': screen.limit,
        'order': screen.order, 'names': screen.names,
        'read': ids[:screen.batch], 'count': len(ids) == screen.limit}
    bench.add({'kind': 'list', 'label': label,
            'rows': rows_text(len(ids), count) if times else '-',
            'sql': statistics.median(sql_times) if sql_times else None,
            'sql_failed': not sql_times,
            'screen': statistics.median(times) if times else None,
            'runs': len(times or []),
            'requests': median_requests(runs[-len(times):]) if times else [],
            'same': same})


def rows_text(found, count):
    return '%d of %d' % (found, count) if count > found else str(found)


def same_rows(ids, rows, page, details, columns):
    """Whether the search found the ids of the SQL's page and the rows read
    have the values of the SQL's rows"""
    if {r['id'] for r in page} != set(ids):
        return False
    expected = {r['id']: r for r in details}
    if any(r['id'] not in expected for r in rows):
        return False
    return totals(rows, columns) == totals(
        [expected[r['id']] for r in rows], columns)


def totals(rows, columns):
    """The sum of each column (selections as numbers, dates as ordinals,
    text by length)"""
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
    return sums


def measure_report(bench, label, action, period, page, count, names,
        columns, from_date=None, to_date=None):
    """A report's list as the administrator, with the report's context
    (from the first day of the period or from_date to today or to_date)"""
    from_date = from_date or bench.from_date
    to_date = to_date or bench.today
    context = {'from_date': from_date, 'to_date': to_date,
        'operator': None, 'business_unit': None,
        'period': period or 'day',
        'context_model': 'sale.call.report.context'}
    screen = rpc.ListScreen(
        bench.admin, 'sale_opportunity_management.' + action, context)
    if not isinstance(names, dict):
        names = {'page': names, 'count': names}
    now = dt.datetime.now()
    params = {k: queries.parameters(n, from_date, to_date, now)
        for k, n in names.items()}
    # The page holds the columns read
    measure_list(bench, label, screen, [
            (page(screen.limit), params['page']),
            (count(screen.limit * 100),
                lambda results: params['count']
                if len(results[0]) == screen.limit else None),
            ], columns)


def measure_trace_list(bench, label, operator):
    """The Traces menu (its Open tab) as an operator (the operator's
    traces) or as the administrator (all of them)"""
    client = bench.admin if operator is None else bench.operator(operator)
    screen = rpc.ListScreen(
        client, 'sale_opportunity_management.act_prospect_trace_form')
    clause, params = ('', ())
    if operator is not None:
        clause = 'AND t.operator = %s '
        params = (bench.team['operators'][operator],)
    measure_page(bench, label, screen, queries.TRACE_PAGE % clause, params,
        queries.TRACE_ROWS, queries.TRACE_COLUMNS)


def measure_page(bench, label, screen, query, params, rows, columns):
    """A list of records as the screen opens it, beside the SQL of its
    page (query of all the rows in the list's order, with its parameters),
    their count when the page is full and the rows read (rows, of the ids
    of the batch read)"""
    steps = [
        (queries.page(query, screen.limit), params),
        (queries.counting(query, screen.limit * 100),
            lambda results: params if len(results[0]) == screen.limit
            else None),
        (rows,
            lambda results: ([r['id'] for r in results[0][:screen.batch]],)),
        ]
    measure_list(bench, label, screen, steps, columns, details=2)


def measure_prospect_list(bench, label, operator):
    """The Prospects menu (its first tab, All) as an operator (the record
    rules keep the prospects assigned to them) or as the administrator"""
    client = bench.admin if operator is None else bench.operator(operator)
    screen = rpc.ListScreen(
        client, 'sale_opportunity_management.act_prospect_form')
    clause, params = ('', ())
    if operator is not None:
        clause = 'AND p.assigned_operator = %s '
        params = (bench.team['operators'][operator],)
    measure_page(bench, label, screen,
        queries.PROSPECT_PAGE.format(clause=clause), params,
        queries.PROSPECT_ROWS, queries.PROSPECT_COLUMNS)


def measure_prospect_search(bench, label):
    """The name of a prospect typed in the search box of the Prospects list
    (its All tab), as the administrator: sao's domain parser makes a
    ('rec_name', 'ilike', '%word%') clause of each word typed, all of them
    to match (the action and the tab add no domain)"""
    screen = rpc.ListScreen(
        bench.admin, 'sale_opportunity_management.act_prospect_form')
    name, = bench.sql.execute(
        "SELECT name FROM sale_prospect WHERE active "
        "AND id >= (SELECT max(id) * 0.618 FROM sale_prospect) "
        "ORDER BY id LIMIT 1").fetchone()
    words = name.split()
    screen.domain = [['rec_name', 'ilike', '%' + w + '%'] for w in words]
    log("  %s: %r, %s" % (label, name, screen.domain))
    params = tuple(v for w in words for v in ['%' + w + '%'] * 2)
    measure_page(bench, label, screen, queries.PROSPECT_PAGE.format(
            clause=queries.PROSPECT_WORD * len(words)), params,
        queries.PROSPECT_ROWS, queries.PROSPECT_COLUMNS)


def measure_call_list(bench, label, operator):
    """The Calls menu (its first tab, Today) as an operator (the calls on
    their traces) or as the administrator (all of them)"""
    client = bench.admin if operator is None else bench.operator(operator)
    screen = rpc.ListScreen(
        client, 'sale_opportunity_management.act_call_form')
    clause, params = ('', (bench.today,))
    if operator is not None:
        clause = queries.CALL_OPERATOR
        params += (bench.team['operators'][operator],)
    measure_page(bench, label, screen,
        queries.CALL_PAGE.format(clause=clause), params,
        queries.CALL_ROWS, queries.CALL_COLUMNS)


TARGETS = {'calls_per_day': 60, 'answered_per_day': 40,
    'agreements_per_month': 4}


def create_targets(bench):
    """The targets of the operators, which the fill does not draw: one for
    all business units per operator and, for a fifth of them, one more in
    a business unit; created as the administrator through the server"""
    operators = bench.team['operators']
    units = bench.team['units']
    values = [dict(TARGETS, operator=o) for o in operators]
    values += [dict(TARGETS, operator=o, business_unit=units[i % len(units)],
            calls_per_day=20)
        for i, o in enumerate(operators[::5])]
    bench.admin.call('model.sale.call.target.create', values,
        context=bench.admin.context)
    log("  %d targets created" % len(values))


# --- Next call --------------------------------------------------------------

NEXT_CALL = 'sale.prospect_trace.next_call'


def open_next_call(client, times, form):
    """Click Next call: return the trace shown, the values shown and the
    wizard's session and view when the trace is shown in the wizard itself
    (the operator's screen), else None (the trace's form opened)"""
    context = dict(client.context)
    session, _, _ = client.timed(times, 'create',
        'wizard.%s.create' % NEXT_CALL, context=context)
    result = client.timed(times, 'start', 'wizard.%s.execute' % NEXT_CALL,
        session, {}, 'start', context=context)
    if 'view' in result:
        view = rpc.WizardView(client, times, result, context)
        return view.values['trace'], view.values, (session, view)
    client.timed(times, 'delete', 'wizard.%s.delete' % NEXT_CALL, session,
        context=context)
    action, data = result['actions'][0]
    if form is None:
        return data['res_id'], {}, None
    row = form.read(times, data['res_id'])
    return row['id'], row, None


def close_wizard(client, session):
    "Close the wizard (untimed: the operator's shift is over)"
    client.call('wizard.%s.delete' % NEXT_CALL, session)


def measure_next_call(bench, label, operator):
    """The Next call of the operator: the wizard, the trace it shows (in
    the operator's screen or in the trace's form), beside the SQL finding
    the trace and reading the same"""
    client = bench.operator(operator)
    user = bench.team['operators'][operator]
    form = rpc.Form(client, 'sale.prospect_trace')
    runs = []

    def next_call():
        times = []
        trace, values, opened = open_next_call(client, times, form)
        if opened:
            close_wizard(client, opened[0])
        runs.append(times)
        return sum(t for _, t in times), (trace, values)
    times, (trace, values) = bench.attempt(
        lambda: bench.repeat(next_call), default=(None, {}))
    sql_times, results = bench.repeat(lambda: timed_sql(bench, [
                (queries.NEXT_DUE, (user, dt.datetime.now())),
                (queries.NEVER_CALLED,
                    lambda r: None if r[0] else (user,)),
                (queries.TRACE_FORM, lambda r: ((r[0] or r[1])[0]['id'],)),
                (queries.TRACE_CALLS, lambda r: ((r[0] or r[1])[0]['id'],)),
                ]))
    expected = results[2][0]
    shown = [c for c in queries.TRACE_COLUMNS if c in values]
    same = trace == expected['id'] and totals([values], shown) == totals(
        [expected], shown)
    bench.screens[label] = {'kind': 'next_call', 'user': client.user_id,
        'context': dict(client.context)}
    bench.add({'kind': 'wizard', 'label': label, 'rows': '1',
            'sql': statistics.median(sql_times),
            'screen': statistics.median(times) if times else None,
            'runs': len(times or []),
            'requests': median_requests(runs[-len(times):]) if times else [],
            'same': same})


def measure_screen_logs(bench, rng, label, button, values):
    """Log a call in the operator's screen with one of its buttons, until
    the next trace is shown: --logs times, spread over the operators who
    log calls, each in one wizard session as in a shift"""
    runs = []
    loggers = range(2, min(2 + LOGGERS, len(bench.team['logins'])))
    per_operator = -(-(bench.args.logs + 5) // len(loggers))
    for operator in loggers:
        client = bench.operator(operator)
        _, _, opened = open_next_call(client, [], None)
        if opened is None:
            log("  %s: Next call opens the trace's form, no screen" % label)
            return
        session, view = opened
        try:
            for _ in range(per_operator):
                times = []
                result = client.timed(times, button,
                    'wizard.%s.execute' % NEXT_CALL, session,
                    view.data(**values(rng)), button, context=view.context)
                if 'view' not in result:
                    break
                view = rpc.WizardView(client, times, result, view.context)
                runs.append(times)
        finally:
            close_wizard(client, session)
    add_percentiles(bench, label, runs[5:])


# --- logging a call ---------------------------------------------------------

def open_traces(bench):
    "The open traces of the operators who log calls, with their operator"
    loggers = bench.team['operators'][2:2 + LOGGERS]
    rows = bench.run_sql(
        "SELECT t.id, p.assigned_operator AS operator "
        "FROM sale_prospect_trace t JOIN sale_prospect p "
        "ON p.id = t.prospect WHERE t.state = 'open' "
        "AND p.assigned_operator = ANY(%s) ORDER BY t.id", (loggers,))
    index = {o: i for i, o in enumerate(bench.team['operators'])}
    return [(r['id'], index[r['operator']]) for r in rows]


def measure_log_wizard(bench, rng, traces):
    """Log a call from the trace's form: the button, the wizard (its form,
    then Log) and the form read again"""
    picked = rng.sample(traces, bench.args.logs + 5)
    forms = {}
    runs = []
    for n, (trace, operator) in enumerate(picked):
        client = bench.operator(operator)
        if operator not in forms:
            forms[operator] = rpc.Form(client, 'sale.prospect_trace')
        times = []
        log_with_wizard(client, times, forms[operator], trace, rng)
        if n >= 5:  # the first ones warm the caches up
            runs.append(times)
    add_percentiles(bench, 'log a call (wizard)', runs)


def log_with_wizard(client, times, form, trace, rng):
    context = dict(client.context, active_model='sale.prospect_trace',
        active_id=trace, active_ids=[trace])
    client.timed(times, 'button', 'model.sale.prospect_trace.make_call',
        [trace], context=client.context)

    def values(results):
        # What sao sends: the values, not the names of the relations
        start = {k: v for k, v in results[0]['view']['defaults'].items()
            if '.' not in k}
        start.update(interest=rng.choice('0123'),
            description='Benchmark call')
        return {'start': start}
    rpc.run_wizard(client, times, 'sale.prospect_trace.make_call', context,
        [('start', {}), ('log_call', values)])
    form.read(times, trace)


def measure_log_create(bench, rng, traces):
    "Log a call with sale.call create alone, as the load test does"
    picked = rng.sample(traces, bench.args.logs + 5)
    runs = []
    for n, (trace, operator) in enumerate(picked):
        client = bench.operator(operator)
        times = []
        client.timed(times, 'create', 'model.sale.call.create', [{
                    'prospect_trace': trace,
                    'interest': rng.choice('0123'),
                    'description': 'Benchmark call',
                    }])
        if n >= 5:
            runs.append(times)
    add_percentiles(bench, 'log a call (sale.call create)', runs)


def add_percentiles(bench, label, runs):
    totals_ = sorted(sum(t for _, t in run) for run in runs)
    bench.add({'kind': 'log', 'label': '%s, p95 of %d' % (
                label, len(runs)),
            'rows': '1', 'sql': None, 'same': None, 'runs': len(runs),
            'screen': totals_[math.ceil(0.95 * len(totals_)) - 1],
            'median': statistics.median(totals_),
            'requests': median_requests(runs)})
