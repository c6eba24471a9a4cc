#!/usr/bin/env python3
# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Benchmark the reports, the trace list and call logging on PostgreSQL.

    tools/bench.py [--prospects N] [--calls N] [--operators N] [--seed N]
                   [--repeat N] [--budget S] [--logs N] [--timeout S]
                   [--explain] [--rst FILE]

Run it with the project's venv Python (`make bench` does); doc/performance.rst
explains the figures.  It starts a throwaway PostgreSQL cluster
(tools/pg-cluster), creates a database with the module activated
(trytond-admin), creates the operators through the ORM and fills prospects,
traces and calls with COPY (100,000 / 100,000 / 1,000,000 by default, the
calls over the last two years), then VACUUM ANALYZE.

It then measures, once with `python` and once with `python -O` (trytond's
record constructor asserts over the whole batch of records, so reading n
records costs O(n²) with assertions on):

- each report model: `search_read([], <list view fields>)` as admin with
  access checks on (as RPC does), context from_date = today - 90 days,
  to_date = today, beside a hand-written SQL query giving the same rows and
  the report's own `table_query()` run bare; ORM and SQL must give the same
  totals (rows and sums of the columns).  The reports of a row per trace or
  per call are also read as the clients do: a page of 1,000 rows.  Beside,
  for information, `search` then `read` in two transactions, as the
  clients call them (the "client" columns, no target);
- current_interest, call_count, last_call_date of 1,000 open traces with
  `Trace.read()` against one SQL query;
- the search of "Next call" when nothing is due (the oldest open trace
  never called of an operator), held to the target of the trace list;
- the 95th percentile of logging one call: `Call.create` by the trace's
  operator with access checks on, in its own transaction, committed
  (--logs times, after 10 not counted).

Targets (from the issue): every report within 1.5x its SQL, the trace list
within 4x, a call logged in under 20 ms at p95; each line says PASS or MISS.
Times are medians after one warm-up run, of up to --repeat runs (at least
3 while within the --budget of seconds of the measure, a single one when
the warm-up took more than a third of it).  A run longer than 60 s is
interrupted and counts as a miss; the whole run stops after --timeout s.

--explain prints EXPLAIN ANALYZE of the SQL the ORM runs for each report.
--rst FILE writes the table in reStructuredText.
Exit status: 0 when the benchmark ran (whatever PASS/MISS says), else 1.
"""
import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DB_NAME = 'bench'
MODULE = 'sale_opportunity_management'
DAYS = 90  # the period of the reports
HISTORY = 730  # the calls span that many days
TIMEOUT = 1800  # a run never lasts longer than that many seconds

REPORT_TARGET = 1.5
TRACE_TARGET = 4
LOG_TARGET = 0.020  # seconds, 95th percentile
LIMIT = 60  # seconds: a slower run is interrupted and counted as a miss


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --- driver: cluster, database, data, then one measure per interpreter -----

def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0])
    parser.add_argument('--prospects', type=int, default=100_000)
    parser.add_argument('--calls', type=int, default=1_000_000)
    parser.add_argument('--operators', type=int, default=50)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--logs', type=int, default=200,
        help="calls logged for the percentile")
    parser.add_argument('--budget', type=float, default=30,
        help="seconds a measure may use for its repetitions")
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--explain', action='store_true')
    parser.add_argument('--rst', metavar='FILE')
    parser.add_argument('--timeout', type=int, default=TIMEOUT)
    # Internal: the phases run in their own processes
    parser.add_argument('--phase', choices=['fill', 'measure'],
        help=argparse.SUPPRESS)
    parser.add_argument('--config', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase == 'fill':
        return fill(args)
    elif args.phase == 'measure':
        return measure(args)
    elif not os.environ.get('BENCH_CLUSTER'):
        # Start again inside a throwaway cluster; it removes itself on exit
        cmd = [os.path.join(HERE, 'pg-cluster'),
            'env', 'BENCH_CLUSTER=1', sys.executable,
            os.path.abspath(__file__),
            *(argv if argv is not None else sys.argv[1:])]
        # In its own process group, to stop it all (the cluster helper
        # cleans up on SIGTERM once its command has ended)
        proc = subprocess.Popen(cmd, start_new_session=True)
        try:
            return proc.wait(timeout=args.timeout + 60)
        except (subprocess.TimeoutExpired, KeyboardInterrupt) as exception:
            log("bench: %s, stopping" % (
                    'interrupted' if isinstance(exception, KeyboardInterrupt)
                    else 'timed out'))
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            return 1
    else:
        try:
            return drive(args)
        except subprocess.TimeoutExpired:
            log("bench: timed out after %d s" % args.timeout)
            return 1
        except subprocess.CalledProcessError as exception:
            log("bench: %s failed" % exception.cmd[-1])
            return 1


def drive(args):
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    if not uri.startswith('postgresql'):
        log("bench: no PostgreSQL cluster (TRYTOND_DATABASE_URI)")
        return 1
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='bench-') as tmp:
        config = os.path.join(tmp, 'trytond.conf')
        with open(config, 'w') as f:
            f.write('[database]\nuri = %s\npath = %s\n' % (
                    uri, os.path.join(tmp, 'files')))
        passfile = os.path.join(tmp, 'admin.pass')
        with open(passfile, 'w') as f:
            f.write('admin\n')
        env = dict(os.environ, TRYTONPASSFILE=passfile)
        # The URI of the cluster must not leak into trytond's own options
        env.pop('TRYTOND_DATABASE__URI', None)

        def remaining():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired('bench', args.timeout)
            return left

        import psycopg
        with psycopg.connect(uri + 'postgres', autocommit=True) as conn:
            conn.execute('CREATE DATABASE %s' % DB_NAME)
            pg_version = conn.execute('SHOW server_version').fetchone()[0]
            pg_settings = dict(conn.execute(
                    "SELECT name, setting || COALESCE(unit, '') "
                    "FROM pg_settings WHERE name IN ("
                    "'shared_buffers', 'work_mem', 'effective_cache_size', "
                    "'jit', 'max_parallel_workers_per_gather')"))

        machine = machine_info(pg_version, pg_settings)
        t = time.monotonic()
        log("bench: creating the database (trytond-admin)")
        # A new database asks the admin e-mail: answer "none" (--email
        # checks the mail domain with DNS)
        admin = subprocess.run([
                os.path.join(os.path.dirname(sys.executable), 'trytond-admin'),
                '-c', config, '-d', DB_NAME, '-u', MODULE,
                '--activate-dependencies'],
            input='\n', env=env, capture_output=True, text=True,
            timeout=remaining())
        if admin.returncode:
            log(admin.stdout, admin.stderr)
            return 1
        log("bench: database created in %.0f s" % (time.monotonic() - t))

        phase = [sys.executable, os.path.abspath(__file__),
            '--config', config, '--prospects', str(args.prospects),
            '--calls', str(args.calls), '--operators', str(args.operators),
            '--seed', str(args.seed), '--repeat', str(args.repeat),
            '--logs', str(args.logs), '--budget', str(args.budget)]
        t = time.monotonic()
        subprocess.run(phase + ['--phase', 'fill'], env=env, check=True,
            timeout=remaining())
        fill_time = time.monotonic() - t

        results = {}
        for mode, flags in [('plain', []), ('-O', ['-O'])]:
            out = os.path.join(tmp, 'measure%s.json' % mode)
            cmd = [phase[0], *flags, *phase[1:], '--phase', 'measure',
                '--out', out]
            if args.explain and mode == 'plain':
                cmd.append('--explain')
            log("bench: measuring with python %s" % ' '.join(flags))
            subprocess.run(cmd, env=env, check=True, timeout=remaining())
            with open(out) as f:
                results[mode] = json.load(f)

    machine['fill'] = fill_time
    commit = machine_info(pg_version, pg_settings)['commit']
    if commit != machine['commit']:
        machine['commit'] += ', then %s during the run' % commit
    machine['total'] = time.monotonic() - started
    print_results(results, machine, args)
    if args.rst:
        with open(args.rst, 'w') as f:
            f.write(rst_results(results, machine, args))
    return 0


def machine_info(pg_version, pg_settings):
    info = {
        'nproc': os.cpu_count(),
        'python': platform.python_version(),
        'postgresql': pg_version,
        'settings': pg_settings,
        }
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal'):
                    info['memory'] = '%.1f GiB' % (
                        int(line.split()[1]) / 1024 ** 2)
                    break
    except OSError:
        pass
    import trytond
    info['trytond'] = trytond.__version__
    try:
        git = ['git', '-C', ROOT]
        info['commit'] = subprocess.run(git + ['rev-parse', '--short', 'HEAD'],
            capture_output=True, text=True, check=True).stdout.strip()
        if subprocess.run(git + ['diff', '--quiet', 'HEAD', '--', '*.py',
                    '*.xml', 'tryton.cfg']).returncode:
            info['commit'] += ' + changes'
    except (OSError, subprocess.CalledProcessError):
        info['commit'] = '?'
    return info


# --- results ---------------------------------------------------------------

def ms(seconds):
    return '%.1f' % (seconds * 1000) if seconds is not None else '-'


def verdict(ok):
    return 'PASS' if ok else 'MISS'


def rows_of(results):
    """Yield (label, target text, figures per mode) for every measure"""
    plain, optimized = results['plain'], results['-O']
    for item in plain['items']:
        other = next(
            i for i in optimized['items'] if i['label'] == item['label'])
        yield item, other


def table_lines(results):
    header = ['measure', 'rows', 'SQL ms', 'query ms', 'ORM ms',
        'ORM -O ms', 'ratio', 'ratio -O', 'target', 'totals', 'result',
        'result -O', 'client ms', 'client -O ms']
    lines = []

    def orm_ms(item):
        if item['orm'] is None:
            return '> %d000' % LIMIT
        return ms(item['orm'])

    def client_ms(item):
        if 'client' not in item:
            return '-'
        return ms(item['client']) if item['client'] else '> %d000' % LIMIT

    for item, other in rows_of(results):
        if item['kind'] == 'log':
            lines.append([item['label'], str(item['rows']), '-', '-',
                    orm_ms(item), orm_ms(other), '-', '-',
                    '< %.0f ms' % (LOG_TARGET * 1000), '-',
                    verdict(item['orm'] < LOG_TARGET),
                    verdict(other['orm'] < LOG_TARGET), '-', '-'])
            continue
        target = item['target']
        ratios = []
        for figures in [item, other]:
            if figures['orm'] is None:
                ratios.append(None)
            else:
                ratios.append(figures['orm'] / figures['sql'])
        checked = [i['same'] for i in [item, other] if i['orm'] is not None]
        query = ('> %d000' % LIMIT if item.get('query_timeout')
            else ms(item.get('query')))
        lines.append([item['label'], str(item['rows']), ms(item['sql']),
                query, orm_ms(item), orm_ms(other),
                *('%.2f' % r if r is not None else '-' for r in ratios),
                '≤ %g×' % target,
                '-' if not checked else (
                    'same' if all(checked) else 'DIFFER'),
                *(verdict(r is not None and r <= target and i['same'])
                    for r, i in zip(ratios, [item, other])),
                *(client_ms(i) for i in [item, other])])
    return header, lines


def print_results(results, machine, args):
    header, lines = table_lines(results)
    widths = [max(len(r[i]) for r in [header, *lines])
        for i in range(len(header))]
    print()
    print("sale_opportunity_management benchmark: %d operators, "
        "%d prospects, %d traces, %d calls; reports on %s .. %s" % (
            args.operators, args.prospects, args.prospects, args.calls,
            results['plain']['from_date'], results['plain']['to_date']))
    print("machine: %s CPU(s) %s, %s, PostgreSQL %s, Python %s, trytond %s; "
        "module at %s" % (machine['nproc'], machine.get('cpu', '?'),
            machine.get('memory', '?'), machine['postgresql'],
            machine['python'], machine['trytond'], machine['commit']))
    print("PostgreSQL settings: %s" % ', '.join(
            '%s=%s' % i for i in sorted(machine['settings'].items())))
    print("SQL = hand-written query, query = the report's table_query() run "
        "bare, ORM = search_read/read/create, client = search then read in "
        "two transactions; medians (p95 for the log)")
    print()
    for row in [header, None, *lines]:
        if row is None:
            print('  '.join('-' * w for w in widths))
            continue
        print('  '.join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths))))
    print()
    for item, other in rows_of(results):
        for mode, figures in [('', item), (' -O', other)]:
            if (figures['kind'] != 'log' and figures['orm'] is not None
                    and not figures['same']):
                print("totals of %s%s: ORM %s, SQL %s" % (
                        figures['label'], mode, figures['orm_totals'],
                        figures['sql_totals']))
    print("data filled in %.0f s, whole run %.0f s" % (
            machine['fill'], machine['total']))
    if results['plain'].get('explain'):
        print()
        for label, plans in results['plain']['explain'].items():
            for plan in plans:
                print('=== %s' % label)
                print(plan)
                print()


def rst_results(results, machine, args):
    header, lines = table_lines(results)
    widths = [max(len(r[i]) for r in [header, *lines])
        for i in range(len(header))]
    border = '  '.join('=' * w for w in widths)

    def line(row):
        return '  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
    out = [border, line(header), border]
    for row in lines:
        out.append(line(row))
    out.append(border)
    return '\n'.join(out) + '\n'


# --- fill: operators through the ORM, the rest with COPY --------------------

BUSINESS_UNITS = ['optics', 'brigade', 'equipment']
STAGES = [('lead', 40), ('qualified', 35), ('agreement', 10),
    ('customer', 8), ('lost', 7)]
INTERESTS = [('0', 35), ('1', 30), ('2', 22), ('3', 13)]
CITIES = ['Bogotá', 'Medellín', 'Cali', 'Barranquilla', 'Cartagena',
    'Bucaramanga', 'Pereira', 'Manizales', 'Cúcuta', 'Ibagué']
WORDS = ['Óptica', 'Brigadas', 'Equipos', 'Visión', 'Salud', 'Lentes',
    'Clínica', 'Centro', 'Distribuidora', 'Laboratorio']
SUFFIXES = ['S.A.S', 'SAS', 'Ltda', 'S.A.', '']


def start_pool(config_file):
    from trytond import config
    config.update_etc(config_file)
    from trytond.pool import Pool
    pool = Pool(DB_NAME)
    pool.init()
    return pool


def copy(cursor, table, columns, rows):
    "Copy the rows (tuples of str or None) into the table"
    def text(value):
        if value is None:
            return '\\N'
        return (str(value).replace('\\', '\\\\').replace('\t', '\\t')
            .replace('\n', '\\n'))
    sql = 'COPY %s (%s) FROM STDIN' % (table, ', '.join(columns))
    with cursor.copy(sql) as copy:
        buffer = []
        for row in rows:
            buffer.append('\t'.join(map(text, row)))
            if len(buffer) >= 10000:
                copy.write('\n'.join(buffer) + '\n')
                buffer = []
        if buffer:
            copy.write('\n'.join(buffer) + '\n')


def fill(args):
    started = time.monotonic()
    pool = start_pool(args.config)
    from trytond.transaction import Transaction
    from trytond.modules.sale_opportunity_management.prospect import (
        name_key)

    rng = random.Random(args.seed)
    with Transaction().start(DB_NAME, 0) as transaction:
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        BusinessUnit = pool.get('sale.business_unit')
        group = ModelData.get_id(MODULE, 'group_prospect_operator')
        operators = User.create([{
                    'name': 'Operator %02d' % i,
                    'login': 'operator%02d' % i,
                    'groups': [('add', [group])],
                    } for i in range(1, args.operators + 1)])
        operators = [o.id for o in operators]
        units = [BusinessUnit(ModelData.get_id(
                        MODULE, 'business_unit_' + code)).id
            for code in BUSINESS_UNITS]
        admin, = User.search([('login', '=', 'admin')])
        admin = admin.id
        transaction.commit()
    log("bench: %d operators created" % len(operators))

    today = dt.date.today()
    now = dt.datetime.now().replace(microsecond=0)
    first_day = today - dt.timedelta(days=HISTORY)

    def pick(choices):
        values, weights = zip(*choices)
        return rng.choices(values, weights, k=1)[0]

    # Calls uniformly over the history on 90% of the traces, unevenly;
    # each trace starts some days before its first call
    weights = [0 if rng.random() < 0.10 else rng.lognormvariate(0, 0.8)
        for _ in range(args.prospects)]
    trace_ids = rng.choices(
        range(1, args.prospects + 1), weights, k=args.calls)
    calls = []
    starts = {}
    for trace_id in trace_ids:
        date = first_day + dt.timedelta(days=rng.randrange(HISTORY + 1))
        calls.append((date, rng.random(), trace_id))
        if date < starts.get(trace_id, today):
            starts[trace_id] = date
    calls.sort()  # ids follow the dates, as when calls are logged

    # Prospects, one trace each
    prospects, traces = [], []
    assigned = {}
    for i in range(1, args.prospects + 1):
        operator = (operators[i % len(operators)]
            if rng.random() > 0.02 else None)
        unit = rng.choice(units) if rng.random() > 0.05 else None
        stage = pick(STAGES)
        name = '%s %s %d %s' % (
            rng.choice(WORDS), rng.choice(CITIES), i, rng.choice(SUFFIXES))
        name = name.strip()
        if i in starts:
            start = starts[i] - dt.timedelta(days=rng.randrange(15))
        else:
            start = first_day + dt.timedelta(days=rng.randrange(HISTORY))
        created = dt.datetime.combine(start, dt.time(8)) + dt.timedelta(
            seconds=rng.randrange(10 * 3600))
        assigned[i] = operator
        prospects.append((i, rng.random() > 0.02, operator, unit,
                rng.choice(CITIES), created, admin, name, name_key(name),
                stage, 'assigned' if operator else 'unassigned'))
        closed = stage in {'customer', 'lost'} or rng.random() < 0.08
        next_call = None
        if not closed and rng.random() < 0.35:
            next_call = now + dt.timedelta(
                minutes=rng.randrange(-10 * 24 * 60, 20 * 24 * 60))
        traces.append((i, i, unit, created, operator or admin, next_call,
                'Call back' if next_call else None,
                'closed' if closed else 'open'))

    first = set()
    rows = []
    for call_id, (date, _, trace_id) in enumerate(calls, 1):
        operator = assigned[trace_id]
        if operator is None or rng.random() < 0.05:
            operator = rng.choice(operators)
        interest = pick(INTERESTS)
        if trace_id in first:
            call_type = 'followup_call'
        else:
            call_type = 'first_call'
            first.add(trace_id)
        created = dt.datetime.combine(date, dt.time(8)) + dt.timedelta(
            seconds=rng.randrange(10 * 3600))
        if interest == '3':
            description = 'Send a quote for %d units' % rng.randrange(1, 50)
        elif rng.random() < 0.2:
            description = 'Asked to call back later'
        else:
            description = None
        duration = (None if interest == '0'
            else dt.timedelta(seconds=rng.randrange(30, 900)))
        rows.append((call_id, call_type, created, operator, date,
                description, duration, interest, operator, trace_id))
    del calls
    log("bench: data generated in %.0f s" % (time.monotonic() - started))

    import psycopg
    uri = os.environ['TRYTOND_DATABASE_URI']
    with psycopg.connect(uri + DB_NAME) as conn:
        with conn.cursor() as cursor:
            copy(cursor, 'sale_prospect', [
                    'id', 'active', 'assigned_operator', 'business_unit',
                    'city', 'create_date', 'create_uid', 'name', 'name_key',
                    'stage', 'state'], prospects)
            copy(cursor, 'sale_prospect_trace', [
                    'id', 'prospect', 'business_unit', 'create_date',
                    'create_uid', 'next_call', 'next_call_note', 'state'],
                traces)
            copy(cursor, 'sale_call', [
                    'id', 'call_type', 'create_date', 'create_uid', 'date',
                    'description', 'duration', 'interest', 'operator',
                    'prospect_trace'], rows)
            for table in ['sale_prospect', 'sale_prospect_trace',
                    'sale_call']:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    "(SELECT max(id) FROM " + table + "))", (table,))
        conn.commit()
        conn.autocommit = True
        for table in ['sale_prospect', 'sale_prospect_trace', 'sale_call',
                'res_user']:
            conn.execute('VACUUM ANALYZE ' + table)
    log("bench: %d prospects, %d traces, %d calls filled in %.0f s" % (
            len(prospects), len(traces), len(rows),
            time.monotonic() - started))
    return 0


# --- measure ---------------------------------------------------------------

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


def hand_queries(from_date, to_date, now):
    """Return the reports to measure: label, model, period, limit, the
    hand-written SQL computing the same rows, its parameters and the
    columns whose sums are compared"""
    end = dt.datetime.combine(to_date + dt.timedelta(days=1), dt.time())
    # The administrator has no company: only the calls without company
    calls_where = ('c.date >= %s AND c.date <= %s '
        'AND (c.company IS NULL)')
    period = (from_date, to_date)
    queries = {}
    counts = ', '.join(
        "count(*) FILTER (WHERE c.interest = '%s') AS interest_%s" % (i, i)
        for i in '0123')
    queries['sale.call.report.operator'] = (
        "SELECT min(c.id) AS id, c.operator, t.business_unit, "
        "count(*) AS calls, "
        "count(*) FILTER (WHERE c.interest <> '0') AS answered, "
        "count(*) FILTER (WHERE c.interest = '0') AS missed, "
        + counts + ", "
        "count(*) FILTER (WHERE c.call_type = 'first_call') AS first_calls, "
        "count(*) FILTER (WHERE c.call_type = 'followup_call') "
        "AS followup_calls, "
        "(count(*) FILTER (WHERE c.interest <> '0'))::float8 / count(*) "
        "AS answer_rate "
        "FROM sale_call c JOIN sale_prospect_trace t "
        "ON t.id = c.prospect_trace "
        "WHERE " + calls_where + " "
        "GROUP BY c.operator, t.business_unit "
        "ORDER BY calls DESC, c.operator, id", period,
        ['calls', 'answered', 'missed', 'interest_0', 'interest_1',
            'interest_2', 'interest_3', 'first_calls', 'followup_calls',
            'answer_rate'])
    for period_name in ['day', 'week', 'month']:
        queries['sale.call.report.operator.timeseries', period_name] = (
            "SELECT min(c.id) AS id, c.operator, "
            "date_trunc('" + period_name + "', c.date)::date AS date, "
            "count(*) AS calls, "
            "count(*) FILTER (WHERE c.interest <> '0') AS answered, "
            "count(*) FILTER (WHERE c.interest = '3') AS high_interest "
            "FROM sale_call c "
            "WHERE " + calls_where + " "
            "GROUP BY 2, 3 ORDER BY 3, 2, 1", period,
            ['date', 'calls', 'answered', 'high_interest'])
    queries['sale.prospect_trace.report.interest'] = (
        "WITH called AS ("
            "SELECT DISTINCT c.prospect_trace FROM sale_call c "
            "WHERE " + calls_where + ") "
        "SELECT t.id, t.id AS trace, t.prospect, "
        "p.assigned_operator AS operator, t.business_unit, t.state, "
        "count(*) AS calls, "
        "(array_agg(c.interest ORDER BY c.date, c.id))[1] "
        "AS first_interest, "
        "(array_agg(c.interest ORDER BY c.date DESC, c.id DESC))[1] "
        "AS last_interest, "
        "max(c.interest) AS max_interest, "
        "min(c.date) AS first_call_date, max(c.date) AS last_call_date, "
        "string_agg(c.interest, ' → ' ORDER BY c.date, c.id) "
        "AS interest_path "
        "FROM called "
        "JOIN sale_call c ON c.prospect_trace = called.prospect_trace "
        "JOIN sale_prospect_trace t ON t.id = c.prospect_trace "
        "JOIN sale_prospect p ON p.id = t.prospect "
        "WHERE t.company IS NULL "
        "GROUP BY t.id, p.assigned_operator "
        "ORDER BY last_call_date DESC, t.id DESC", period,
        ['calls', 'first_interest', 'last_interest', 'max_interest',
            'first_call_date', 'last_call_date', 'interest_path'])
    queries['sale.prospect_trace.report.pending'] = (
        "SELECT min(t.id) AS id, p.assigned_operator AS operator, "
        "count(*) AS open_traces, "
        "count(*) FILTER (WHERE NOT EXISTS ("
            "SELECT 1 FROM sale_call c WHERE c.prospect_trace = t.id)) "
        "AS never_called, "
        "count(t.next_call) AS scheduled, "
        "count(*) FILTER (WHERE t.next_call < %s) AS due, "
        "count(*) FILTER (WHERE t.next_call < %s) AS overdue "
        "FROM sale_prospect_trace t "
        "JOIN sale_prospect p ON p.id = t.prospect "
        "WHERE t.state = 'open' AND t.company IS NULL "
        "GROUP BY p.assigned_operator "
        "ORDER BY due DESC, operator NULLS FIRST, id", (end, now),
        ['open_traces', 'never_called', 'scheduled', 'due'])
    queries['sale.prospect.report.assignment'] = (
        "SELECT min(p.id) AS id, p.business_unit, "
        "p.assigned_operator AS operator, count(*) AS prospects, "
        "coalesce(sum(o.traces), 0)::int AS open_traces "
        "FROM sale_prospect p LEFT JOIN ("
            "SELECT prospect, count(*) AS traces FROM sale_prospect_trace "
            "WHERE state = 'open' GROUP BY prospect) o "
        "ON o.prospect = p.id "
        "WHERE p.active AND p.company IS NULL "
        "GROUP BY p.business_unit, p.assigned_operator "
        "ORDER BY p.business_unit NULLS FIRST, operator NULLS FIRST, id",
        (), ['prospects', 'open_traces'])
    queries['sale.call.report.high_interest'] = (
        "SELECT c.id, c.id AS call, c.date, t.prospect, t.id AS trace, "
        "c.operator, t.business_unit, c.contact_method, c.description, "
        "t.state AS trace_state, "
        "(SELECT l.interest FROM sale_call l "
            "WHERE l.prospect_trace = c.prospect_trace "
            "ORDER BY l.date DESC, l.id DESC LIMIT 1) AS current_interest, "
        "1 AS calls "
        "FROM sale_call c JOIN sale_prospect_trace t "
        "ON t.id = c.prospect_trace "
        "WHERE " + calls_where + " AND c.interest = '3' "
        "ORDER BY c.date DESC, c.id DESC", period,
        ['date', 'current_interest', 'calls', 'trace'])
    reports = []
    for key, (query, params, columns) in queries.items():
        model, period = key if isinstance(key, tuple) else (key, None)
        label = '%s (%s)' % key if period else model
        reports.append({
                'label': label, 'model': model, 'period': period,
                'limit': None, 'query': query, 'params': params,
                'columns': columns})
        if model in {'sale.prospect_trace.report.interest',
                'sale.call.report.high_interest'}:
            # What the clients do: a page of 1000 rows
            reports.append(dict(reports[-1],
                    label=model + ' (first 1000)', limit=1000,
                    query=query + ' LIMIT 1000'))
    return reports


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


def measure(args):
    signal.signal(signal.SIGALRM, too_slow)
    pool = start_pool(args.config)
    from trytond.transaction import Transaction, check_access

    rng = random.Random(args.seed)
    today = dt.date.today()
    from_date = today - dt.timedelta(days=DAYS)
    items = []
    explain = {}

    with Transaction().start(DB_NAME, 0, readonly=True) as transaction:
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        admin = admin.id
    with Transaction().start(DB_NAME, admin, readonly=True):
        admin_context = User.get_preferences(context_only=True)

    def report_context(period=None):
        context = dict(admin_context, from_date=from_date, to_date=today)
        if period:
            context['period'] = period
        return context

    def run_sql(query, params, context=None):
        with Transaction().start(DB_NAME, admin, readonly=True,
                context=context, timeout=LIMIT) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute(query, params)
            names = [d.name for d in cursor.description]
            return [dict(zip(names, r)) for r in cursor]

    def show(item):
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

    # Reports
    for report in hand_queries(from_date, today, dt.datetime.now()):
        label, query, params, columns, limit = (report['label'],
            report['query'], report['params'], report['columns'],
            report['limit'])
        Model = pool.get(report['model'])
        context = report_context(report['period'])
        with Transaction().start(DB_NAME, admin, readonly=True,
                context=context, timeout=LIMIT):
            view = Model.fields_view_get(view_type='tree')
            fields_names = list(view['fields'])

        def orm():
            with Transaction().start(DB_NAME, admin, readonly=True,
                    context=context, timeout=LIMIT):
                with check_access():
                    return Model.search_read([], limit=limit,
                        fields_names=list(fields_names))

        def client():
            # as the clients list records: search, then read, in two calls
            with Transaction().start(DB_NAME, admin, readonly=True,
                    context=context, timeout=LIMIT):
                with check_access():
                    ids = list(map(int, Model.search([], limit=limit)))
            with Transaction().start(DB_NAME, admin, readonly=True,
                    context=context, timeout=LIMIT):
                with check_access():
                    return Model.read(ids, list(fields_names))

        def sql():
            return run_sql(query, params)

        def bare():
            with Transaction().start(DB_NAME, admin, readonly=True,
                    context=context, timeout=LIMIT) as transaction:
                cursor = transaction.connection.cursor()
                cursor.execute(*Model.table_query())
                return cursor.fetchall()

        sql_times, sql_rows = timed(sql, args.repeat, args.budget, LIMIT)
        query_times = None
        if not limit and not sys.flags.optimize:  # the same SQL either way
            query_times, _ = timed(bare, args.repeat, args.budget, LIMIT)
        orm_times, orm_rows = timed(orm, args.repeat, args.budget, LIMIT)
        client_times, _ = timed(client, args.repeat, args.budget, LIMIT)
        sql_totals = totals(sql_rows, columns)
        orm_totals = totals(orm_rows, columns) if orm_times else None
        item = {
            'kind': 'report', 'label': label, 'target': REPORT_TARGET,
            'rows': len(sql_rows),
            'sql': statistics.median(sql_times),
            'query': statistics.median(query_times) if query_times else None,
            'query_timeout': bool(
                not limit and not sys.flags.optimize and not query_times),
            'orm': statistics.median(orm_times) if orm_times else None,
            'client': (
                statistics.median(client_times) if client_times else None),
            'runs': len(orm_times) if orm_times else 0,
            'orm_totals': orm_totals, 'sql_totals': sql_totals,
            'same': orm_totals == sql_totals,
            }
        items.append(item)
        show(item)
        if args.explain and orm_times:
            with QueryLog() as querylog:
                orm()
            plans = []
            with Transaction().start(DB_NAME, admin, readonly=True) as t:
                cursor = t.connection.cursor()
                for q in querylog.queries:
                    if not q.lstrip().upper().startswith('SELECT'):
                        continue
                    cursor.execute('EXPLAIN (ANALYZE, BUFFERS) ' + q)
                    plans.append(
                        (q if len(q) < 3000 else q[:3000] + ' …') + '\n'
                        + '\n'.join(r[0] for r in cursor))
            explain[label] = plans

    # The trace list: 1,000 open traces
    with Transaction().start(DB_NAME, admin, readonly=True) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute(
            "SELECT t.id, p.assigned_operator FROM sale_prospect_trace t "
            "JOIN sale_prospect p ON p.id = t.prospect "
            "WHERE t.state = 'open' ORDER BY t.id")
        open_traces = cursor.fetchall()
    trace_ids = [t for t, _ in rng.sample(open_traces, 1000)]
    Trace = pool.get('sale.prospect_trace')
    trace_fields = ['current_interest', 'call_count', 'last_call_date']

    def trace_orm():
        with Transaction().start(DB_NAME, admin, readonly=True,
                context=admin_context, timeout=LIMIT):
            with check_access():
                return Trace.read(list(trace_ids), list(trace_fields))

    trace_query = (
        "SELECT t.id, s.call_count, s.last_call_date, s.current_interest "
        "FROM unnest(%s::int[]) AS t(id) LEFT JOIN ("
            "SELECT prospect_trace, count(*) AS call_count, "
            "max(date) AS last_call_date, "
            "(array_agg(interest ORDER BY date DESC, id DESC))[1] "
            "AS current_interest "
            "FROM sale_call WHERE prospect_trace = ANY(%s) "
            "GROUP BY prospect_trace) s ON s.prospect_trace = t.id")

    def trace_sql():
        return run_sql(trace_query, (trace_ids, trace_ids))

    def compare(label, sql, orm, columns):
        sql_times, sql_rows = timed(sql, args.repeat, args.budget, LIMIT)
        orm_times, orm_rows = timed(orm, args.repeat, args.budget, LIMIT)
        orm_totals = totals(orm_rows, columns) if orm_times else None
        sql_totals = totals(sql_rows, columns)
        item = {
            'kind': 'read', 'label': label,
            'target': TRACE_TARGET, 'rows': len(sql_rows),
            'sql': statistics.median(sql_times),
            'orm': statistics.median(orm_times) if orm_times else None,
            'runs': len(orm_times) if orm_times else 0,
            'orm_totals': orm_totals, 'sql_totals': sql_totals,
            'same': orm_totals == sql_totals,
            }
        items.append(item)
        show(item)

    compare('sale.prospect_trace read 1000', trace_sql, trace_orm,
        trace_fields)

    # Next call when nothing is due: the oldest open trace never called of
    # the operator with the most open traces, searched as Next Call does
    busiest = statistics.mode(o for _, o in open_traces if o)
    with Transaction().start(DB_NAME, busiest, readonly=True):
        busiest_context = User.get_preferences(context_only=True)
    never_called = [
        ('operator', '=', busiest), ('state', '=', 'open'),
        ('next_call', '=', None), ('current_interest', '=', None)]

    def never_called_orm():
        with Transaction().start(DB_NAME, busiest, readonly=True,
                context=busiest_context, timeout=LIMIT):
            with check_access():
                return [{'id': t.id} for t in Trace.search(
                        never_called, order=[('id', 'ASC')], limit=1)]

    def never_called_sql():
        return run_sql(
            "SELECT t.id FROM sale_prospect_trace t "
            "JOIN sale_prospect p ON p.id = t.prospect "
            "WHERE p.assigned_operator = %s AND t.state = 'open' "
            "AND t.next_call IS NULL AND NOT EXISTS ("
                "SELECT 1 FROM sale_call c WHERE c.prospect_trace = t.id) "
            "ORDER BY t.id LIMIT 1", (busiest,))

    compare('sale.prospect_trace never called (next call)',
        never_called_sql, never_called_orm, ['id'])

    # Logging a call, as the operator of the trace, like RPC
    Call = pool.get('sale.call')
    contexts = {}
    candidates = [t for t in open_traces if t[1]]
    picked = rng.sample(candidates, args.logs + 10)
    times = []
    for n, (trace_id, operator) in enumerate(picked):
        if operator not in contexts:
            with Transaction().start(DB_NAME, operator, readonly=True):
                contexts[operator] = User.get_preferences(context_only=True)
        start = time.perf_counter()
        with Transaction().start(DB_NAME, operator,
                context=contexts[operator]) as transaction:
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
    item = {
        'kind': 'log', 'label': 'sale.call create (p95 of %d)' % len(times),
        'rows': len(times),
        'orm': times[math.ceil(0.95 * len(times)) - 1],
        'median': statistics.median(times),
        }
    items.append(item)
    show(item)

    with open(args.out, 'w') as f:
        json.dump({
                'items': items, 'explain': explain,
                'from_date': str(from_date), 'to_date': str(today),
                'optimize': sys.flags.optimize,
                }, f, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
