# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Load and fault test over JSON-RPC (tools/load-test; not run by CI).

Setup, as admin over JSON-RPC, in a throwaway PostgreSQL cluster: 20 users
in "Prospect Operation"; the last four (op17-op20, the shift leads) are also
in "Prospect Administration".  Each operator gets 3 prospects through the
assignment wizard (which opens their traces).  Sharing: record rules show an
operator only the traces of the prospects assigned to them, so a trace can
be worked by two people at once only when one of them sees everything.  The
first trace of op01..op08 is therefore shared with a lead (op17 shares
op01's and op02's, op18 op03's and op04's...): the lead and the owner log
calls on it at the same time.

Run: two trytond processes serve the database on two ports.  First a
baseline: the admin alone logs 30 calls, one at a time (the latency without
concurrency).  Then 20 threads, one per virtual operator, log in once each
(odd operators on server A, even on server B) and, once all are in, each
log N calls (`model.sale.call.create`) round-robin on their traces, each
call carrying a unique token in its description.  When half of the calls
are acknowledged, server A is killed with SIGKILL.  The clients then go on
with server B (the session lives in the database, so it holds there):

- connection refused: the request never reached a server; send it to the
  other one;
- an error answer: refused, known not stored (an HTTP 503 — the database
  busy after trytond's own retries — is sent again, at most 3 times);
- no answer (reset, closed, timeout): the outcome is unknown.  The client
  asks the other server whether a call with its token exists; if so it
  was stored (acknowledged late), else it sends the request once more to the
  other server.  A blind retry could store the call twice when the first
  server died between its commit and its answer.

Checks: every acknowledged call stored exactly once (no token twice, none
lost), none refused stored, the operator report's total equals the stored
calls, each trace has exactly one first call.  Prints throughput, latency
percentiles and the counts.
"""
import argparse
import datetime as dt
import http.client
import json
import os
import random
import socket
import statistics
import threading
import time
import uuid

import harness as h
from harness import RPCError

UNKNOWN = (ConnectionResetError, BrokenPipeError, http.client.HTTPException,
    socket.timeout, TimeoutError, ConnectionAbortedError)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = {}      # token -> (login, call id)
        self.refused = {}           # token -> error
        self.unknown = {}           # token -> error (outcome never known)
        self.latencies = []         # (end time, seconds) of the answers
        self.failovers = 0          # connection refused: sent elsewhere
        self.unknown_outcomes = 0   # no answer: looked up then maybe retried
        self.found_after_unknown = 0
        self.retried_after_unknown = 0
        self.busy_retries = 0

    def count(self):
        with self.lock:
            return len(self.acknowledged)


class Operator(threading.Thread):
    def __init__(self, index, login, password, traces, servers, home,
            calls, stats, deadline, site, ready):
        super().__init__(name=login, daemon=True)
        self.index = index
        self.login = login
        self.password = password
        self.traces = traces
        self.servers = servers
        self.current = home
        self.calls = calls
        self.stats = stats
        self.deadline = deadline
        self.site = site
        self.ready = ready
        self.error = None
        self.random = random.Random(index)

    def client(self):
        return self.session.with_url(self.servers[self.current].url)

    def switch(self):
        self.current = 1 - self.current

    def run(self):
        try:
            self.session = h.Client(
                self.servers[self.current].url, self.site.name,
                timeout=30).login(self.login, self.password)
            # All log in first, then all call together
            self.ready.wait(60)
            for i in range(self.calls):
                if time.monotonic() > self.deadline:
                    raise TimeoutError('deadline reached')
                trace = self.traces[i % len(self.traces)]
                token = f'LT:{self.login}:{i:03d}:{uuid.uuid4().hex[:12]}'
                self.log_call(trace, token)
        except Exception as exception:  # reported by the main thread
            self.error = exception

    def create(self, values):
        start = time.monotonic()
        result = self.client().model('sale.call', 'create', [values])
        end = time.monotonic()
        with self.stats.lock:
            self.stats.latencies.append((end, end - start))
        return result

    def log_call(self, trace, token):
        stats = self.stats
        values = {
            'prospect_trace': trace,
            'interest': self.random.choice('0123'),
            'description': token,
            }
        attempts = 0
        busy = 0
        while True:
            attempts += 1
            try:
                call_id, = self.create(values)
            except ConnectionRefusedError:
                # Never delivered: the other server gets it
                with stats.lock:
                    stats.failovers += 1
                self.switch()
                if attempts > 4:
                    raise
                continue
            except RPCError as error:
                if error.kind == 'http' and error.status == 503 and busy < 3:
                    busy += 1
                    with stats.lock:
                        stats.busy_retries += 1
                    time.sleep(0.1 * busy)
                    continue
                with stats.lock:
                    stats.refused[token] = f'{error.kind}: {error.message}'
                return
            except UNKNOWN as error:
                with stats.lock:
                    stats.unknown_outcomes += 1
                self.switch()
                self.after_unknown(values, token, error)
                return
            with stats.lock:
                stats.acknowledged[token] = (self.login, call_id)
            return

    def after_unknown(self, values, token, error):
        "Look the token up on the other server, then send it once more"
        stats = self.stats
        try:
            found = self.client().model('sale.call', 'search',
                [('description', '=', token)], 0, None, None)
        except (OSError, http.client.HTTPException, RPCError) as lookup:
            with stats.lock:
                stats.unknown[token] = f'{error!r}; look-up: {lookup!r}'
            return
        if found:
            with stats.lock:
                stats.found_after_unknown += 1
                stats.acknowledged[token] = (self.login, found[0])
            return
        with stats.lock:
            stats.retried_after_unknown += 1
        try:
            call_id, = self.create(values)
        except RPCError as refusal:
            with stats.lock:
                stats.refused[token] = f'{refusal.kind}: {refusal.message}'
        except (OSError, http.client.HTTPException) as again:
            with stats.lock:
                stats.unknown[token] = f'{error!r}; retry: {again!r}'
        else:
            with stats.lock:
                stats.acknowledged[token] = (self.login, call_id)


def cpu_times():
    "(busy, total) jiffies of all the CPUs of the machine"
    with open('/proc/stat') as fp:
        values = [int(v) for v in fp.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def cpu_busy(start, end):
    busy = end[0] - start[0]
    total = end[1] - start[1]
    return round(100 * busy / total, 1) if total else None


def percentile(values, p):
    if not values:
        return float('nan')
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    f = int(k)
    c = min(f + 1, len(values) - 1)
    return values[f] + (values[c] - values[f]) * (k - f)


def setup(admin, operators, leads, shared_per_lead, prospects_each):
    """Create the users and their prospects and traces; return
    {login: (password, [trace ids])} and the shared trace ids"""
    groups = {g['name']: g['id'] for g in admin.search_read(
            'res.group', [('name', 'like', 'Prospect %')], ['name'])}
    operation = groups['Prospect Operation']
    administration = groups['Prospect Administration']
    logins = [f'op{i:02d}' for i in range(1, operators + 1)]
    lead_logins = logins[-leads:] if leads else []
    users = {}
    for login in logins:
        group_ids = [operation] + (
            [administration] if login in lead_logins else [])
        password = f'{login}-Pa55word!'
        user_id, = admin.model('res.user', 'create', [{
                    'login': login, 'name': f'Operator {login}',
                    'password': password,
                    'groups': [['add', group_ids]]}])
        users[login] = (user_id, password)
    unit, = admin.model('sale.business_unit', 'search',
        [('code', '=', 'optics')], 0, None, None)
    traces = {}
    number = 0
    for login in logins:
        values = []
        for _ in range(prospects_each):
            number += 1
            values.append({
                    'name': f'Load Prospect {number:04d}',
                    'business_unit': unit,
                    'contact_methods': [['create', [{
                                    'contact_type': 'phone',
                                    'value': f'+57 601 700 {number:04d}',
                                    }]]],
                    })
        ids = admin.model('sale.prospect', 'create', values)
        admin.wizard('sale.prospect.assign', {'start': {
                    'operators': [users[login][0]], 'prospects': ids,
                    'business_unit': unit, 'limit': None}},
            ['start', 'assign'],
            context={'active_model': 'sale.prospect', 'active_ids': ids,
                'active_id': ids[0]})
        found = admin.search_read('sale.prospect_trace',
            [('prospect', 'in', ids)], ['prospect'])
        by_prospect = {t['prospect']: t['id'] for t in found}
        traces[login] = [by_prospect[i] for i in ids]
    shared = []
    plain = [l for l in logins if l not in lead_logins]
    for j, lead in enumerate(lead_logins):
        for owner in plain[j * shared_per_lead:(j + 1) * shared_per_lead]:
            trace = traces[owner][0]
            shared.append(trace)
            traces[lead].append(trace)
    plan = {l: (users[l][1], traces[l]) for l in logins}
    return plan, shared, lead_logins


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--operators', type=int, default=20)
    parser.add_argument('--calls', type=int, default=50,
        help='calls per operator (default 50)')
    parser.add_argument('--leads', type=int, default=4,
        help='operators also in Prospect Administration (default 4)')
    parser.add_argument('--kill-at', type=float, default=0.5,
        help='kill server A when this share of the calls is acknowledged')
    parser.add_argument('--no-kill', action='store_true',
        help='kill no server (for comparison)')
    parser.add_argument('--baseline', type=int, default=30,
        help='calls logged by the admin alone first, to measure the '
        'latency without concurrency (default 30)')
    parser.add_argument('--timeout', type=float, default=600,
        help='the calling phase stops after this many seconds')
    parser.add_argument('--json', metavar='FILE',
        help='also write the figures to FILE')
    parser.add_argument('--keep', action='store_true',
        help='keep the temp directory (configurations, server logs)')
    args = parser.parse_args(argv)

    started = time.monotonic()
    site = h.Site('loadtest', keep=args.keep)
    problems = []
    checks = [('the run completed', False)]
    try:
        site.create()
        servers = [site.start_server(), site.start_server()]
        print(f'load-test: database "{site.name}" served by trytond '
            f'A {servers[0].url} (pid {servers[0].process.pid}) and '
            f'B {servers[1].url} (pid {servers[1].process.pid})', flush=True)
        admin = h.Client(servers[0].url, site.name).login(
            'admin', site.ADMIN_PASSWORD)
        plan, shared, leads = setup(admin, args.operators, args.leads,
            shared_per_lead=2, prospects_each=3)
        print(f'load-test: {len(plan)} operators ({len(leads)} leads in '
            f'Prospect Administration), {3 * len(plan)} traces, '
            f'{len(shared)} shared by two operators; setup '
            f'{time.monotonic() - started:.0f}s', flush=True)

        # Baseline: the admin (in all three groups) alone on server B, one
        # call at a time on the traces of the first operator
        login = next(iter(plan))
        alone = admin.with_url(servers[1].url)
        baseline = []
        for i in range(args.baseline):
            values = {'prospect_trace': plan[login][1][i % 3],
                'interest': '0123'[i % 4],
                'description': f'LB:admin:{i:03d}:{uuid.uuid4().hex[:12]}'}
            start = time.monotonic()
            alone.model('sale.call', 'create', [values])
            baseline.append((time.monotonic() - start) * 1000)
        if baseline:
            print(f'load-test: baseline, one client alone: {len(baseline)} '
                f'calls, p50 {percentile(baseline, 50):.1f} ms, '
                f'p95 {percentile(baseline, 95):.1f} ms '
                f'({1000 / statistics.mean(baseline):.1f} calls/s)',
                flush=True)

        stats = Stats()
        total = args.operators * args.calls
        deadline = time.monotonic() + args.timeout
        ready = threading.Barrier(len(plan) + 1)
        threads = [Operator(i, login, password, traces, servers,
                home=i % 2, calls=args.calls, stats=stats,
                deadline=deadline, site=site, ready=ready)
            for i, (login, (password, traces)) in enumerate(plan.items())]
        kill_info = {}
        for thread in threads:
            thread.start()
        ready.wait(120)  # every operator is logged in
        phase_start = time.monotonic()
        cpu_start = cpu_times()
        if not args.no_kill:
            threshold = int(total * args.kill_at)
            while (stats.count() < threshold
                    and any(t.is_alive() for t in threads)
                    and time.monotonic() < deadline):
                time.sleep(0.01)
            servers[0].kill()
            cpu_kill = cpu_times()
            kill_info = {'at': stats.count(),
                'after': time.monotonic() - phase_start}
            print(f'load-test: killed server A (SIGKILL) after '
                f'{kill_info["at"]} acknowledged calls, '
                f'{kill_info["after"]:.1f}s into the run', flush=True)
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0) + 30)
        duration = time.monotonic() - phase_start
        cpu_end = cpu_times()
        for thread in threads:
            if thread.is_alive():
                problems.append(f'{thread.name} did not finish in time')
            elif thread.error:
                problems.append(f'{thread.name} stopped: {thread.error!r}')

        # --- checks, on server B and straight in the database
        survivor = admin.with_url(servers[1].url)
        with h.pg_connect(site.name) as conn:
            stored = {}
            for description, count in conn.execute(
                    'SELECT description, count(*) FROM sale_call '
                    "WHERE description LIKE 'LT:%%' GROUP BY description"):
                stored[description] = count
            all_calls, = conn.execute(
                'SELECT count(*) FROM sale_call').fetchone()
            first_calls = dict(conn.execute(
                'SELECT prospect_trace, '
                "count(*) FILTER (WHERE call_type = 'first_call') "
                'FROM sale_call GROUP BY prospect_trace').fetchall())
            untyped, = conn.execute(
                'SELECT count(*) FROM sale_call WHERE call_type IS NULL'
                ).fetchone()
            baseline_stored, = conn.execute(
                'SELECT count(DISTINCT description) FROM sale_call '
                "WHERE description LIKE 'LB:%%'").fetchone()
        acknowledged = stats.acknowledged
        lost = [t for t in acknowledged if stored.get(t, 0) == 0]
        duplicated = [t for t, n in stored.items() if n > 1]
        refused_stored = [t for t in stats.refused if stored.get(t, 0)]
        unknown_stored = [t for t in stats.unknown if stored.get(t, 0)]
        unexpected = [t for t in stored if t not in acknowledged
            and t not in stats.unknown]
        rows = survivor.search_read('sale.call.report.operator', [],
            ['operator', 'calls'],
            context=dict(survivor.context, from_date=dt.date(2000, 1, 1),
                to_date=dt.date(2100, 12, 31)))
        report_total = sum(r['calls'] for r in rows)
        bad_first = {t: n for t, n in first_calls.items() if n != 1}

        lat = [x * 1000 for _, x in stats.latencies]
        kill_time = phase_start + kill_info['after'] if kill_info else None

        def phase(before):
            "Latencies and throughput before / after the kill"
            if kill_time is None:
                return None
            xs = [x * 1000 for t, x in stats.latencies
                if (t < kill_time) == before]
            span = (kill_time - phase_start) if before else (
                phase_start + duration - kill_time)
            return {
                'answered': len(xs),
                'throughput_calls_s': (
                    round(len(xs) / span, 1) if span else None),
                'p50': round(percentile(xs, 50), 1),
                'p95': round(percentile(xs, 95), 1),
                'p99': round(percentile(xs, 99), 1),
                }
        figures = {
            'operators': args.operators,
            'leads': len(leads),
            'calls_per_operator': args.calls,
            'shared_traces': len(shared),
            'requested': total,
            'acknowledged': len(acknowledged),
            'refused': len(stats.refused),
            'unknown': len(stats.unknown),
            'stored': sum(stored.values()),
            'stored_all': all_calls,
            'report_total': report_total,
            'lost': len(lost),
            'duplicated': len(duplicated),
            'refused_stored': len(refused_stored),
            'unexpected_stored': len(unexpected),
            'traces_without_one_first_call': len(bad_first),
            'untyped_calls': untyped,
            'failovers': stats.failovers,
            'unknown_outcomes': stats.unknown_outcomes,
            'found_after_unknown': stats.found_after_unknown,
            'retried_after_unknown': stats.retried_after_unknown,
            'busy_retries': stats.busy_retries,
            'duration_s': round(duration, 2),
            'throughput_calls_s': round(len(acknowledged) / duration, 1),
            'baseline_ms': {
                'calls': len(baseline),
                'p50': round(percentile(baseline, 50), 1),
                'p95': round(percentile(baseline, 95), 1),
                'mean': round(statistics.mean(baseline), 1)
                if baseline else None,
                },
            'latency_ms': {
                'p50': round(percentile(lat, 50), 1),
                'p95': round(percentile(lat, 95), 1),
                'p99': round(percentile(lat, 99), 1),
                'max': round(max(lat), 1) if lat else None,
                'mean': round(statistics.mean(lat), 1) if lat else None,
                },
            'killed': kill_info,
            'two_servers': phase(True),
            'one_server': phase(False),
            'cpu_busy_percent': {
                'run': cpu_busy(cpu_start, cpu_end),
                'two_servers': cpu_busy(cpu_start, cpu_kill)
                if kill_info else None,
                'one_server': cpu_busy(cpu_kill, cpu_end)
                if kill_info else None,
                },
            'machine': h.machine(),
            }
        print(f'load-test: {len(acknowledged)} of {total} calls acknowledged '
            f'in {duration:.1f}s: {figures["throughput_calls_s"]} calls/s')
        print('load-test: latency of the answered creates: '
            f'p50 {figures["latency_ms"]["p50"]} ms, '
            f'p95 {figures["latency_ms"]["p95"]} ms, '
            f'p99 {figures["latency_ms"]["p99"]} ms, '
            f'max {figures["latency_ms"]["max"]} ms')
        cpu = figures['cpu_busy_percent']
        if kill_info:
            for label, key in [('A and B', 'two_servers'),
                    ('B alone', 'one_server')]:
                f = figures[key]
                print(f'load-test:   {label}: {f["answered"]} answered, '
                    f'{f["throughput_calls_s"]} calls/s, p50 {f["p50"]} ms, '
                    f'p95 {f["p95"]} ms, p99 {f["p99"]} ms, '
                    f'CPUs {cpu[key]}% busy')
        print(f'load-test: CPUs busy {cpu["run"]}% of the run '
            f'({os.cpu_count()} CPUs, the clients included)')
        print(f'load-test: failover: {stats.failovers} requests sent to the '
            f'other server after "connection refused", '
            f'{stats.unknown_outcomes} with an unknown outcome '
            f'({stats.found_after_unknown} found stored, '
            f'{stats.retried_after_unknown} sent again), '
            f'{stats.busy_retries} sent again after HTTP 503')
        print(f'load-test: refused {len(stats.refused)}, outcome never known '
            f'{len(stats.unknown)} ({len(unknown_stored)} of them stored)')
        for token, error in list(stats.refused.items())[:5]:
            print(f'    refused {token}: {error[:160]}')
        print(f'load-test: stored {sum(stored.values())} calls '
            f'(+ {baseline_stored} of the baseline: {all_calls} in '
            f'sale_call), report total {report_total}')
        print(f'load-test: calls lost: {len(lost)}')
        print(f'load-test: stored twice: '
            f'{len(duplicated)}, refused but stored: {len(refused_stored)}, '
            f'traces without exactly one first call: {len(bad_first)}')
        checks = [
            ('every acknowledged call is stored', not lost),
            ('no call is stored twice', not duplicated),
            ('no refused call is stored', not refused_stored),
            ('the baseline calls are stored once each',
                baseline_stored == len(baseline)
                and all_calls == sum(stored.values()) + len(baseline)),
            ('nothing stored that no client sent', not unexpected),
            ('the report total equals the stored calls',
                report_total == all_calls),
            ('each trace called has exactly one first call', not bad_first),
            ('every call has a call type', not untyped),
            ('every operator finished', not problems),
            ]
        if not args.no_kill:
            checks.append(('server A was killed midway and the run went on',
                    bool(kill_info) and len(acknowledged) > kill_info['at']))
        for name, ok in checks:
            print(f'{"ok  " if ok else "FAIL"} {name}')
        for problem in problems:
            print(f'    {problem}')
        figures['checks'] = {name: ok for name, ok in checks}
        if args.json:
            with open(args.json, 'w') as fp:
                json.dump(figures, fp, indent=2, default=str)
        if args.keep:
            print(f'load-test: kept {site.dir}')
    except Exception:
        import traceback
        traceback.print_exc()
        print('FAIL the run completed: see the traceback above')
    finally:
        site.close()
    failed = sum(1 for _, ok in checks if not ok)
    print(f'load-test: {time.monotonic() - started:.0f}s in all')
    print(f'{len(checks) - failed} passed, {failed} failed')
    return 1 if failed else 0
