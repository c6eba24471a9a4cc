# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Load and fault test over JSON-RPC through a load balancer
(tools/load-test; not run by CI).

Setup, as admin over JSON-RPC, in a throwaway PostgreSQL cluster: 20 users
in "Prospect Operation"; the last four (op17-op20, the shift leads) are also
in "Prospect Administration".  Each operator gets 3 prospects through the
assignment wizard (which opens their traces).  Sharing: record rules show an
operator only the traces of the prospects assigned to them, so a trace can
be worked by two people at once only when one of them sees everything.  The
first trace of op01..op08 is therefore shared with a lead (op17 shares
op01's and op02's, op18 op03's and op04's...): the lead and the owner log
calls on it at the same time.

Runs, one per number of processes (--processes, 1, 2 and 4): that many
trytond processes (the built-in server, PYTHONOPTIMIZE=1, one port each)
behind nginx (least connections; installed with apt-get when missing), and
trytond-cron running throughout.  First a baseline: the admin alone logs
30 calls, one at a time.  Then 20 threads, one per virtual operator, log in
once each through the balancer and, once all are in, each log N calls
(`model.sale.call.create`) round-robin on their traces, each call carrying
a unique token in its description.  When half of the calls are
acknowledged, the first process is killed with SIGKILL and started again at
once, as a supervisor (systemd) would.  nginx sends a request it could not
deliver to another process; one in progress on the killed process comes
back as 502 Bad Gateway, which the client cannot tell from a commit
whose answer was lost:

- an error answer from trytond: refused, known not stored (HTTP 503 —
  the database busy after trytond's own retries, or no process to send it
  to — is sent again, at most 5 times);
- HTTP 502 or 504, or no answer: the outcome is unknown.  The client looks
  a call with its token up (waiting while no process answers); if there is
  one it was stored, else it sends the request once more.  A blind retry
  could store the call twice when the process died between its commit and
  its answer.

Checks of each run: every acknowledged call stored exactly once (no token
twice, none lost), none refused stored, nothing stored that no client
sent, the baseline stored once, every operator finished, the process
killed midway and the run went on.  At the end: the operator report's total
equals the stored calls, each trace has exactly one first call, every call
has a call type, trytond-cron still runs.  Prints throughput and latency
percentiles of each run.
"""
import argparse
import datetime as dt
import http.client
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import harness as h
from harness import RPCError

UNKNOWN = (ConnectionError, http.client.HTTPException, socket.timeout,
    TimeoutError)
PATIENCE = 60  # seconds a client waits for a process to answer again


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = {}      # token -> (login, call id)
        self.refused = {}           # token -> error
        self.unknown = {}           # token -> error (outcome never known)
        self.latencies = []         # (end time, seconds) of the answers
        self.waits = []             # seconds from sending to acknowledged
        self.unknown_outcomes = 0   # 502/504 or no answer: looked up
        self.found_after_unknown = 0
        self.retried_after_unknown = 0
        self.busy_retries = 0

    def count(self):
        with self.lock:
            return len(self.acknowledged)

    def add(self, counter, value=1):
        with self.lock:
            setattr(self, counter, getattr(self, counter) + value)


# --- the processes and the balancer -----------------------------------------

class Backend(h.Server):
    """A trytond process on its own port, which a supervisor would start
    again after a crash: restart() does, on the same port"""

    def __init__(self, site, port):
        # Not Server.__init__: the port is chosen by the cluster and kept
        self.site = site
        self.port = port
        self.url = f'http://127.0.0.1:{port}'
        # As doc/deployment.rst advises: caches cleared at once in every
        # process (LISTEN/NOTIFY)
        self.conf = site.config(port, '[cache]\nclean_timeout = 0\n')
        self.log_path = os.path.join(site.dir, f'trytond-{port}.log')
        self._log = open(self.log_path, 'ab')
        self.spawn()

    def spawn(self):
        # PYTHONOPTIMIZE and the client's address from nginx's header, as
        # in production (doc/deployment.rst)
        self.process = subprocess.Popen([
                sys.executable, os.path.join(h.BIN, 'trytond'),
                '-c', self.conf, '-d', self.site.name],
            stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONOPTIMIZE='1',
                TRYTOND_WEB__NUM_PROXIES='1'))
        self.wait_ready()


def find_nginx():
    "The nginx binary, installed with apt-get when missing (as root)"
    path = shutil.which('nginx') or shutil.which('nginx', path='/usr/sbin')
    if path or os.geteuid() != 0 or not shutil.which('apt-get'):
        return path
    print('load-test: installing nginx with apt-get', flush=True)
    # The package would start its own server on port 80: forbid starting
    # services during the install, unless the machine already does
    guard = '/usr/sbin/policy-rc.d'
    created = not os.path.exists(guard)
    if created:
        with open(guard, 'w') as fp:
            fp.write('#!/bin/sh\nexit 101\n')
        os.chmod(guard, 0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        for cmd in [['apt-get', 'update', '-qq'], ['apt-get', 'install',
                    '-y', '-qq', '--no-install-recommends', 'nginx']]:
            subprocess.run(cmd, env=env, check=False,
                stdout=subprocess.DEVNULL)
    finally:
        if created:
            os.remove(guard)
    return shutil.which('nginx') or shutil.which('nginx', path='/usr/sbin')


NGINX_CONF = """# Throwaway balancer of tools/load-test, on the loopback only
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$upstream_addr|$status|$request_time';
    access_log {dir}/access.log upstream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream trytond {{
        # The process with the fewest requests in progress: a report may
        # keep one busy for seconds
        least_conn;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 100m;
        location / {{
            proxy_pass http://trytond;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 120s;
            # Only requests never delivered go to another process: nginx
            # does not send a POST twice
            proxy_next_upstream error;
        }}
    }}
}}
"""


class Balancer:
    "nginx in front of the processes, in a folder of its own"

    def __init__(self, binary, ports):
        self.dir = tempfile.mkdtemp(prefix='loadtest-nginx-')
        # nginx's workers, run as another user, go through it
        os.chmod(self.dir, 0o711)
        self.port = h.free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        user = ''
        if os.geteuid() == 0:
            user = 'user %s;\n' % next(name for name in ['www-data', 'nobody']
                if has_user(name))
        servers = '\n'.join(
            f'        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;'
            for p in ports)
        conf = os.path.join(self.dir, 'nginx.conf')
        with open(conf, 'w') as fp:
            fp.write(NGINX_CONF.format(user=user, dir=self.dir,
                    servers=servers, port=self.port))
        self.process = subprocess.Popen([binary, '-c', conf, '-p', self.dir,
                '-e', os.path.join(self.dir, 'error.log')],
            stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            stdout=open(os.path.join(self.dir, 'nginx.out'), 'wb'))
        self.wait_ready()

    def wait_ready(self, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError('nginx exited: ' + self.log_tail())
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError('nginx is not answering')

    def log_tail(self):
        with open(os.path.join(self.dir, 'error.log'), errors='replace') as fp:
            return fp.read()[-2000:]

    def spread(self):
        """The requests each process answered, and those nginx passed on to
        another process (it could not connect), from the access log"""
        counts = {'passed on': 0}
        with open(os.path.join(self.dir, 'access.log')) as fp:
            for line in fp:
                tried = line.split('|', 1)[0].split(', ')
                counts[tried[-1]] = counts.get(tried[-1], 0) + 1
                counts['passed on'] += len(tried) - 1
        return counts

    def stop(self, keep=False):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class Cluster:
    "n trytond processes behind nginx"

    def __init__(self, site, nginx, n, keep=False):
        self.keep = keep
        self.backends = []
        self.balancer = None
        try:
            self.backends = [Backend(site, h.free_port()) for _ in range(n)]
            self.balancer = Balancer(nginx, [b.port for b in self.backends])
        except Exception:
            self.close()
            raise
        self.url = self.balancer.url

    def close(self):
        if self.balancer:
            self.balancer.stop(self.keep)
        for backend in self.backends:
            backend.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_cron(site):
    "trytond-cron on the database, as in production"
    conf = site.config(0)
    log = open(os.path.join(site.dir, 'trytond-cron.log'), 'wb')
    # In a session of its own: its pool of processes is stopped with it
    return subprocess.Popen([sys.executable,
            os.path.join(h.BIN, 'trytond-cron'), '-n', '1', '-c', conf,
            '-d', site.name],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONOPTIMIZE='1'), start_new_session=True)


def stop_cron(cron):
    "Stop trytond-cron and the processes of its pool"
    if cron.poll() is None:
        os.killpg(cron.pid, signal.SIGTERM)
        try:
            cron.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(cron.pid, signal.SIGKILL)
            cron.wait()
    try:
        os.killpg(cron.pid, signal.SIGKILL)  # a worker left behind
    except ProcessLookupError:
        pass


# --- the virtual operators --------------------------------------------------

class Operator(threading.Thread):
    def __init__(self, index, login, password, traces, url, prefix,
            calls, stats, deadline, site, ready):
        super().__init__(name=login, daemon=True)
        self.login = login
        self.password = password
        self.traces = traces
        self.url = url
        self.prefix = prefix
        self.calls = calls
        self.stats = stats
        self.deadline = deadline
        self.site = site
        self.ready = ready
        self.error = None
        self.random = random.Random(index)

    def run(self):
        try:
            self.client = patient(lambda: h.Client(
                    self.url, self.site.name, timeout=30).login(
                    self.login, self.password))
            # All log in first, then all call together
            self.ready.wait(120)
            for i in range(self.calls):
                if time.monotonic() > self.deadline:
                    raise TimeoutError('deadline reached')
                trace = self.traces[i % len(self.traces)]
                token = (f'{self.prefix}:{self.login}:{i:03d}:'
                    f'{uuid.uuid4().hex[:12]}')
                self.log_call(trace, token)
        except Exception as exception:  # reported by the main thread
            self.error = exception

    def create(self, values):
        start = time.monotonic()
        result = self.client.model('sale.call', 'create', [values])
        end = time.monotonic()
        with self.stats.lock:
            self.stats.latencies.append((end, end - start))
        return result

    def acknowledge(self, token, call_id):
        "The call is stored: count the wait since it was first sent"
        with self.stats.lock:
            self.stats.acknowledged[token] = (self.login, call_id)
            self.stats.waits.append(time.monotonic() - self.sent)

    def log_call(self, trace, token):
        self.sent = time.monotonic()
        values = {
            'prospect_trace': trace,
            'interest': self.random.choice('0123'),
            'description': token,
            }
        for busy in range(6):
            try:
                call_id, = self.create(values)
            except RPCError as error:
                if error.kind == 'http' and error.status in {502, 504}:
                    return self.after_unknown(values, token, error)
                if error.kind == 'http' and error.status == 503 and busy < 5:
                    # Not stored: the database was busy, or nginx had no
                    # process to send it to
                    self.stats.add('busy_retries')
                    time.sleep(0.2 * (busy + 1))
                    continue
                with self.stats.lock:
                    self.stats.refused[token] = (
                        f'{error.kind}: {error.message}')
                return
            except UNKNOWN as error:
                return self.after_unknown(values, token, error)
            return self.acknowledge(token, call_id)

    def after_unknown(self, values, token, error):
        "Look the token up, then send the call once more if it is not there"
        stats = self.stats
        stats.add('unknown_outcomes')
        try:
            found = patient(lambda: self.client.model('sale.call', 'search',
                    [('description', '=', token)], 0, None, None))
        except (OSError, http.client.HTTPException, RPCError) as lookup:
            with stats.lock:
                stats.unknown[token] = f'{error!r}; look-up: {lookup!r}'
            return
        if found:
            stats.add('found_after_unknown')
            return self.acknowledge(token, found[0])
        stats.add('retried_after_unknown')
        try:
            call_id, = patient(lambda: self.create(values), retry_502=False)
        except (RPCError,) + UNKNOWN as again:
            with stats.lock:
                if isinstance(again, RPCError) and not (again.kind == 'http'
                        and again.status in {502, 504}):
                    stats.refused[token] = f'{again.kind}: {again.message}'
                else:
                    stats.unknown[token] = f'{error!r}; retry: {again!r}'
        else:
            self.acknowledge(token, call_id)


def patient(func, retry_502=True):
    """Call func until a process answers: while none does, nginx answers
    502 (or 503); a reset connection is not an answer either.  A request
    that may have been stored (retry_502 False) is not sent again on 502."""
    end = time.monotonic() + PATIENCE
    delay = 0.1
    while True:
        try:
            return func()
        except RPCError as error:
            statuses = {502, 503, 504} if retry_502 else {503}
            if (error.kind != 'http' or error.status not in statuses
                    or time.monotonic() > end):
                raise
        except UNKNOWN:
            if not retry_502 or time.monotonic() > end:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1)


# --- figures ----------------------------------------------------------------

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


def summary(latencies_ms):
    return {
        'p50': round(percentile(latencies_ms, 50), 1),
        'p95': round(percentile(latencies_ms, 95), 1),
        'p99': round(percentile(latencies_ms, 99), 1),
        'max': round(max(latencies_ms), 1) if latencies_ms else None,
        }


# --- setup ------------------------------------------------------------------

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
    traces = {login: assign_prospects(admin, users[login][0], unit,
            number=i * prospects_each, count=prospects_each)
        for i, login in enumerate(logins)}
    shared = []
    plain = [l for l in logins if l not in lead_logins]
    for j, lead in enumerate(lead_logins):
        for owner in plain[j * shared_per_lead:(j + 1) * shared_per_lead]:
            trace = traces[owner][0]
            shared.append(trace)
            traces[lead].append(trace)
    plan = {l: (users[l][1], traces[l]) for l in logins}
    return plan, shared, lead_logins


def assign_prospects(admin, user_id, unit, number, count):
    "Create count prospects, assign them to the user; return their traces"
    ids = admin.model('sale.prospect', 'create', [{
                'name': f'Load Prospect {number + n + 1:04d}',
                'business_unit': unit,
                'contact_methods': [['create', [{
                                'contact_type': 'phone',
                                'value': f'+57 601 700 {number + n + 1:04d}',
                                }]]],
                } for n in range(count)])
    admin.wizard('sale.prospect.assign', {'start': {
                'operators': [user_id], 'prospects': ids,
                'business_unit': unit, 'limit': None}},
        ['start', 'assign'],
        context={'active_model': 'sale.prospect', 'active_ids': ids,
            'active_id': ids[0]})
    found = admin.search_read('sale.prospect_trace',
        [('prospect', 'in', ids)], ['prospect'])
    by_prospect = {t['prospect']: t['id'] for t in found}
    return [by_prospect[i] for i in ids]


# --- one run ----------------------------------------------------------------

def baseline(admin, plan, count, prefix):
    "The admin alone logs count calls, one at a time; their latencies (ms)"
    login = next(iter(plan))
    times = []
    for i in range(count):
        values = {'prospect_trace': plan[login][1][i % 3],
            'interest': '0123'[i % 4],
            'description': f'{prefix}:admin:{i:03d}:{uuid.uuid4().hex[:12]}'}
        start = time.monotonic()
        admin.model('sale.call', 'create', [values])
        times.append((time.monotonic() - start) * 1000)
    return times


def call_phase(args, cluster, plan, prefix, site):
    """The operators log their calls together; the first process is killed
    and started again midway.  Return the stats, the kill and the times"""
    stats = Stats()
    total = args.operators * args.calls
    deadline = time.monotonic() + args.timeout
    ready = threading.Barrier(len(plan) + 1)
    threads = [Operator(i, login, password, traces, cluster.url, prefix,
            args.calls, stats, deadline, site, ready)
        for i, (login, (password, traces)) in enumerate(plan.items())]
    for thread in threads:
        thread.start()
    ready.wait(120)  # every operator is logged in
    start, cpu_start = time.monotonic(), cpu_times()
    kill = {}
    if not args.no_kill:
        while (stats.count() < int(total * args.kill_at)
                and any(t.is_alive() for t in threads)
                and time.monotonic() < deadline):
            time.sleep(0.01)
        kill = kill_and_restart(cluster.backends[0], stats, start)
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0) + 30)
    duration = time.monotonic() - start
    problems = [f'{t.name} did not finish in time' if t.is_alive()
        else f'{t.name} stopped: {t.error!r}'
        for t in threads if t.is_alive() or t.error]
    return stats, kill, problems, {'start': start, 'duration': duration,
        'cpu': cpu_busy(cpu_start, cpu_times())}


def kill_and_restart(backend, stats, start):
    "SIGKILL the process, then start it again as a supervisor would"
    at, after = stats.count(), time.monotonic() - start
    backend.kill()
    killed = time.monotonic()
    print(f'load-test:   killed process {backend.process.pid} (SIGKILL) '
        f'after {at} acknowledged calls, {after:.1f}s into the run',
        flush=True)
    backend.spawn()
    back = time.monotonic() - killed
    print(f'load-test:   started again, answering after {back:.1f}s',
        flush=True)
    return {'at': at, 'after': round(after, 2), 'restart_s': round(back, 2)}


def stored_calls(site, prefix):
    "{description: count} of the calls whose token has the prefix"
    with h.pg_connect(site.name) as conn:
        return dict(conn.execute(
                'SELECT description, count(*) FROM sale_call '
                'WHERE description LIKE %s GROUP BY description',
                (prefix + ':%',)).fetchall())


def run_once(args, site, nginx, n, plan, admin_password):
    "A run with n processes behind nginx; return its figures and checks"
    prefix, base_prefix = f'LT{n}', f'LB{n}'
    with Cluster(site, nginx, n, keep=args.keep) as cluster:
        print(f'load-test: {n} process(es) behind nginx {cluster.url}: '
            + ', '.join(b.url for b in cluster.backends), flush=True)
        admin = h.Client(cluster.url, site.name).login(
            'admin', admin_password)
        base = baseline(admin, plan, args.baseline, base_prefix)
        stats, kill, problems, phase = call_phase(
            args, cluster, plan, prefix, site)
        spread = cluster.balancer.spread()
    stored = stored_calls(site, prefix)
    base_stored = stored_calls(site, base_prefix)
    figures = run_figures(args, n, stats, kill, phase, base, stored, spread)
    checks = run_checks(args, stats, kill, problems, stored, base,
        base_stored)
    print_run(figures, checks, problems, stats)
    return figures, checks


def run_figures(args, n, stats, kill, phase, base, stored, spread):
    latencies = [x * 1000 for _, x in stats.latencies]
    kill_time = phase['start'] + kill['after'] if kill else None
    after_kill = [x * 1000 for t, x in stats.latencies
        if kill_time and t >= kill_time]
    return {
        'processes': n,
        'requested': args.operators * args.calls,
        'acknowledged': len(stats.acknowledged),
        'refused': len(stats.refused),
        'unknown': len(stats.unknown),
        'stored': sum(stored.values()),
        'lost': sum(1 for t in stats.acknowledged if not stored.get(t)),
        'duplicated': sum(1 for c in stored.values() if c > 1),
        'duration_s': round(phase['duration'], 2),
        'throughput_calls_s': round(
            len(stats.acknowledged) / phase['duration'], 1),
        'latency_ms': summary(latencies),
        # Retries and look-ups included: the wait of the operator
        'acknowledged_ms': summary([x * 1000 for x in stats.waits]),
        'after_kill_ms': summary(after_kill) if kill else None,
        'baseline_ms': summary(base),
        'killed': kill,
        'unknown_outcomes': stats.unknown_outcomes,
        'found_after_unknown': stats.found_after_unknown,
        'retried_after_unknown': stats.retried_after_unknown,
        'busy_retries': stats.busy_retries,
        'requests_per_process': spread,
        'cpu_busy_percent': phase['cpu'],
        }


def run_checks(args, stats, kill, problems, stored, base, base_stored):
    acknowledged = stats.acknowledged
    checks = [
        ('every acknowledged call is stored',
            all(stored.get(t) for t in acknowledged)),
        ('no call is stored twice',
            all(c == 1 for c in stored.values())),
        ('no refused call is stored',
            not any(stored.get(t) for t in stats.refused)),
        ('nothing stored that no client sent', all(
                t in acknowledged or t in stats.unknown for t in stored)),
        ('the baseline calls are stored once each',
            len(base_stored) == len(base)
            and all(c == 1 for c in base_stored.values())),
        ('every operator finished', not problems),
        ]
    if not args.no_kill:
        checks.append(('a process was killed midway and the run went on',
                bool(kill) and len(acknowledged) > kill['at']))
    return checks


def print_run(f, checks, problems, stats):
    lat = f['latency_ms']
    print(f'load-test:   {f["acknowledged"]} of {f["requested"]} calls '
        f'acknowledged in {f["duration_s"]}s: {f["throughput_calls_s"]} '
        f'calls/s; latency p50 {lat["p50"]} ms, p95 {lat["p95"]} ms, '
        f'p99 {lat["p99"]} ms, max {lat["max"]} ms; until acknowledged '
        f'p95 {f["acknowledged_ms"]["p95"]} ms, max '
        f'{f["acknowledged_ms"]["max"]} ms; CPUs {f["cpu_busy_percent"]}% '
        'busy')
    print(f'load-test:   baseline alone p50 {f["baseline_ms"]["p50"]} ms; '
        f'outcome unknown {f["unknown_outcomes"]} (found stored '
        f'{f["found_after_unknown"]}, sent again '
        f'{f["retried_after_unknown"]}), sent again after 503 '
        f'{f["busy_retries"]}; refused {f["refused"]}, never known '
        f'{f["unknown"]}; lost {f["lost"]}, stored twice '
        f'{f["duplicated"]}')
    print('load-test:   requests per process: ' + ', '.join(
            f'{k} {v}' for k, v in sorted(f['requests_per_process'].items())))
    for token, error in list(stats.refused.items())[:5]:
        print(f'    refused {token}: {error[:160]}')
    for name, ok in checks:
        print(f'{"ok  " if ok else "FAIL"} {name}')
    for problem in problems:
        print(f'    {problem}')


def final_checks(site, nginx, admin_password, cron):
    "The report, the first calls and the call types over all the runs"
    with Cluster(site, nginx, 1) as cluster:
        admin = h.Client(cluster.url, site.name).login(
            'admin', admin_password)
        rows = admin.search_read('sale.call.report.operator', [],
            ['operator', 'calls'],
            context=dict(admin.context, from_date=dt.date(2000, 1, 1),
                to_date=dt.date(2100, 12, 31)))
    with h.pg_connect(site.name) as conn:
        all_calls, = conn.execute(
            'SELECT count(*) FROM sale_call').fetchone()
        bad_first, = conn.execute(
            'SELECT count(*) FROM (SELECT prospect_trace FROM sale_call '
            'GROUP BY prospect_trace HAVING count(*) FILTER ('
            "WHERE call_type = 'first_call') <> 1) AS t").fetchone()
        untyped, = conn.execute(
            'SELECT count(*) FROM sale_call WHERE call_type IS NULL'
            ).fetchone()
    report_total = sum(r['calls'] for r in rows)
    print(f'load-test: {all_calls} calls stored in all, report total '
        f'{report_total}')
    return [
        ('the report total equals the stored calls',
            report_total == all_calls),
        ('each trace called has exactly one first call', not bad_first),
        ('every call has a call type', not untyped),
        ('trytond-cron ran throughout', cron.poll() is None),
        ]


def print_table(results):
    print()
    print('processes  calls/s  p50 ms  p95 ms  p99 ms  max wait ms  lost  '
        'twice  unknown (found/resent)  restart s  CPUs %')
    for f in results:
        kill = f['killed'] or {}
        print(f'{f["processes"]:>9}  {f["throughput_calls_s"]:>7}  '
            f'{f["latency_ms"]["p50"]:>6}  {f["latency_ms"]["p95"]:>6}  '
            f'{f["latency_ms"]["p99"]:>6}  '
            f'{f["acknowledged_ms"]["max"]:>11}  {f["lost"]:>4}  '
            f'{f["duplicated"]:>5}  {f["unknown_outcomes"]:>7} '
            f'({f["found_after_unknown"]}/{f["retried_after_unknown"]})'
            f'{"":>9}  {kill.get("restart_s", "-"):>9}  '
            f'{f["cpu_busy_percent"]:>6}')


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--processes', default='1,2,4',
        help='the numbers of trytond processes, one run each (1,2,4)')
    parser.add_argument('--operators', type=int, default=20)
    parser.add_argument('--calls', type=int, default=50,
        help='calls per operator and run (default 50)')
    parser.add_argument('--leads', type=int, default=4,
        help='operators also in Prospect Administration (default 4)')
    parser.add_argument('--kill-at', type=float, default=0.5,
        help='kill a process when this share of the calls is acknowledged')
    parser.add_argument('--no-kill', action='store_true',
        help='kill no process (for comparison)')
    parser.add_argument('--baseline', type=int, default=30,
        help='calls logged by the admin alone first, to measure the '
        'latency without concurrency (default 30)')
    parser.add_argument('--timeout', type=float, default=600,
        help='the calling phase of a run stops after this many seconds')
    parser.add_argument('--json', metavar='FILE',
        help='also write the figures to FILE')
    parser.add_argument('--keep', action='store_true',
        help='keep the temp directories (configurations, logs)')
    args = parser.parse_args(argv)
    args.processes = [int(n) for n in args.processes.split(',')]
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    nginx = find_nginx()
    if not nginx:
        print('load-test: no nginx and cannot install it (needs root and '
            'apt-get)')
        return 77
    site = h.Site('loadtest', keep=args.keep)
    checks, results, cron = [('the run completed', False)], [], None
    try:
        site.create()
        cron = start_cron(site)
        with Cluster(site, nginx, 1) as cluster:
            admin = h.Client(cluster.url, site.name).login(
                'admin', site.ADMIN_PASSWORD)
            plan, shared, leads = setup(admin, args.operators, args.leads,
                shared_per_lead=2, prospects_each=3)
        print(f'load-test: {len(plan)} operators ({len(leads)} leads in '
            f'Prospect Administration), {3 * len(plan)} traces, '
            f'{len(shared)} shared by two operators; setup '
            f'{time.monotonic() - started:.0f}s', flush=True)
        checks = []
        for n in args.processes:
            figures, run_checks_ = run_once(
                args, site, nginx, n, plan, site.ADMIN_PASSWORD)
            results.append(figures)
            checks += [(f'{n} process(es): {name}', ok)
                for name, ok in run_checks_]
        final = final_checks(site, nginx, site.ADMIN_PASSWORD, cron)
        for name, ok in final:
            print(f'{"ok  " if ok else "FAIL"} {name}')
        checks += final
        print_table(results)
        if args.json:
            with open(args.json, 'w') as fp:
                json.dump({'runs': results, 'checks': dict(checks),
                        'machine': h.machine()}, fp, indent=2, default=str)
    except Exception:
        import traceback
        traceback.print_exc()
        checks.append(('the run completed', False))
        print('FAIL the run completed: see the traceback above')
    finally:
        if cron:
            stop_cron(cron)
        site.close()
    failed = sum(1 for _, ok in checks if not ok)
    print(f'load-test: {time.monotonic() - started:.0f}s in all')
    print(f'{len(checks) - failed} passed, {failed} failed')
    return 1 if failed else 0
