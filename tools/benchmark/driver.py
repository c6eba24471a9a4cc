# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Driver of tools/bench: a throwaway cluster and database (harness.Site),
the fill in a process of its own, a real trytond serving the database,
the measures over JSON-RPC, then the report."""
import json
import os
import platform
import signal
import subprocess
import sys
import time

import harness

from . import measure, report
from .common import DB_NAME, ENTRY, RATIO_TARGET, ROOT, SCREEN_TARGET, TOOLS
from .common import log

TIMEOUT = 3600  # a run never lasts longer than that many seconds (default)


def in_cluster(argv, timeout):
    "Run tools/bench again inside a throwaway cluster, removed on exit"
    cmd = [os.path.join(TOOLS, 'pg-cluster'), 'env', 'BENCH_CLUSTER=1',
        harness.IN_CLUSTER + '=1', sys.executable, ENTRY, *argv]
    # In its own process group, to stop it all (the cluster helper
    # cleans up on SIGTERM once its command has ended)
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        return proc.wait(timeout=timeout + 60)
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


def run(args):
    "Run the benchmark in the cluster; 1 when a phase failed or timed out"
    try:
        return drive(args)
    except subprocess.TimeoutExpired:
        log("bench: timed out after %d s" % args.timeout)
        return 1
    except subprocess.CalledProcessError as exception:
        log("bench: the %s phase failed" % exception.cmd[-1])
        return 1


class Deadline:
    "The end of the whole run (--timeout) and the time of each phase"

    def __init__(self, timeout):
        self.timeout = timeout
        self.started = time.monotonic()
        self.last = self.started
        self.phases = {}

    def left(self):
        left = self.started + self.timeout - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired('bench', self.timeout)
        return left

    def done(self, phase):
        now = time.monotonic()
        self.phases[phase] = now - self.last
        self.last = now
        log("bench: %s in %.0f s" % (phase, self.phases[phase]))


def drive(args):
    deadline = Deadline(args.timeout)
    load = os.getloadavg()
    site = harness.Site(DB_NAME, keep=args.keep)
    try:
        log("bench: creating the database (trytond-admin)")
        site.create()
        deadline.done('database created')
        config = site.config(0)
        team = run_phase(args, 'fill', config, site.dir, deadline)
        deadline.done('data filled')
        server = start_server(site)
        deadline.done('server started')
        bench = measure.Bench(args, server.url, team, site.ADMIN_PASSWORD)
        items = measure.main(bench)
        deadline.done('screens measured')
        plans = None
        if args.explain:
            plans = explain_misses(args, bench, config, site.dir, deadline)
            deadline.done('plans explained')
        machine = machine_info(bench, load)
    finally:
        site.close()
    deadline.phases['whole run'] = time.monotonic() - deadline.started
    machine['phases'] = deadline.phases
    report.print_results(items, machine, args, plans)
    write_outputs(args, items, machine, plans)
    return 0


def run_phase(args, phase, config, tmp, deadline, extra=()):
    "Run a phase in its own process; return what it wrote"
    out = os.path.join(tmp, phase + '.json')
    subprocess.run([sys.executable, ENTRY, '--config', config,
            '--prospects', str(args.prospects), '--calls', str(args.calls),
            '--operators', str(args.operators), '--seed', str(args.seed),
            *extra, '--out', out, '--phase', phase],
        check=True, timeout=deadline.left())
    with open(out) as f:
        return json.load(f)


def start_server(site):
    """A trytond serving the database, with PYTHONOPTIMIZE=1 as
    doc/configuration.rst advises (the record constructor's assertions
    cost O(n²) in the records read)"""
    os.environ['PYTHONOPTIMIZE'] = '1'
    try:
        return site.start_server()
    finally:
        del os.environ['PYTHONOPTIMIZE']


def misses(items):
    "The items that missed a target"
    for item in items:
        r = report.ratio(item)
        if (item['screen'] is None or item['screen'] >= SCREEN_TARGET
                or item['same'] is False
                or (r is not None and r > RATIO_TARGET)):
            yield item['label']


def explain_misses(args, bench, config, tmp, deadline):
    "EXPLAIN the slowest queries of the screens that missed a target"
    screens = {label: bench.screens[label] for label in misses(bench.items)
        if label in bench.screens}
    path = os.path.join(tmp, 'screens.json')
    with open(path, 'w') as f:
        json.dump(screens, f, default=harness._encode)
    return run_phase(args, 'explain', config, tmp, deadline,
        extra=['--screens', path])


def write_outputs(args, items, machine, plans):
    if args.rst:
        with open(args.rst, 'w') as f:
            f.write(report.rst_table(items))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'items': items, 'machine': machine, 'plans': plans,
                    'args': vars(args)}, f, indent=1, default=str)


def machine_info(bench, load):
    import trytond
    settings = dict(bench.sql.execute(
            "SELECT name, setting || COALESCE(unit, '') FROM pg_settings "
            "WHERE name IN ('shared_buffers', 'work_mem', "
            "'effective_cache_size', 'jit', "
            "'max_parallel_workers_per_gather')"))
    info = {
        'nproc': os.cpu_count(),
        'python': platform.python_version(),
        'postgresql': bench.sql.execute('SHOW server_version').fetchone()[0],
        'settings': settings,
        'trytond': trytond.__version__,
        'optimize': 1,
        'commit': git_commit(),
        # Other jobs on the machine show here: the figures vary with them
        'load': '%.1f %.1f %.1f at the start, %.1f %.1f %.1f at the end' % (
            *load, *os.getloadavg()),
        'from_date': str(bench.from_date),
        'to_date': str(bench.today),
        }
    for key, path, name in [('cpu', '/proc/cpuinfo', 'model name'),
            ('memory', '/proc/meminfo', 'MemTotal')]:
        value = proc_value(path, name)
        if value and key == 'memory':
            value = '%.1f GiB' % (int(value.split()[0]) / 1024 ** 2)
        if value:
            info[key] = value
    return info


def proc_value(path, key):
    "The value of the first line of the /proc file that starts with key"
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return None


def git_commit():
    "The module's commit, '+ changes' when its code differs from it"
    git = ['git', '-C', ROOT]
    try:
        commit = subprocess.run(git + ['rev-parse', '--short', 'HEAD'],
            capture_output=True, text=True, check=True).stdout.strip()
        if subprocess.run(git + ['diff', '--quiet', 'HEAD', '--', '*.py',
                    '*.xml', 'tryton.cfg']).returncode:
            commit += ' + changes'
    except (OSError, subprocess.CalledProcessError):
        commit = '?'
    return commit
