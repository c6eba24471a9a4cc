# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Driver of tools/bench: a throwaway cluster, the database, then the fill
and one measure per interpreter, each in its own process, and the report."""
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

from . import report
from .common import DB_NAME, ENTRY, MODULE, ROOT, TOOLS, log

TIMEOUT = 1800  # a run never lasts longer than that many seconds (default)

def in_cluster(argv, timeout):
    "Run tools/bench again inside a throwaway cluster, removed on exit"
    cmd = [os.path.join(TOOLS, 'pg-cluster'),
        'env', 'BENCH_CLUSTER=1', sys.executable, ENTRY, *argv]
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
        log("bench: %s failed" % exception.cmd[-1])
        return 1


class Deadline:
    "The end of the whole run (--timeout)"

    def __init__(self, timeout):
        self.timeout = timeout
        self.started = time.monotonic()

    def left(self):
        left = self.started + self.timeout - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired('bench', self.timeout)
        return left

    def elapsed(self):
        return time.monotonic() - self.started


def drive(args):
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    if not uri.startswith('postgresql'):
        log("bench: no PostgreSQL cluster (TRYTOND_DATABASE_URI)")
        return 1
    deadline = Deadline(args.timeout)
    with tempfile.TemporaryDirectory(prefix='bench-') as tmp:
        config, env = configure(tmp, uri)
        pg_version, pg_settings = create_database(uri)
        machine = machine_info(pg_version, pg_settings)
        if not activate_module(config, env, deadline):
            return 1
        phase = phase_command(args, config)
        t = time.monotonic()
        subprocess.run(phase + ['--phase', 'fill'], env=env, check=True,
            timeout=deadline.left())
        machine['fill'] = time.monotonic() - t
        results = measure_both(args, phase, env, tmp, deadline)

    commit = git_commit()
    if commit != machine['commit']:
        machine['commit'] += ', then %s during the run' % commit
    machine['total'] = deadline.elapsed()
    report.print_results(results, machine, args)
    if args.rst:
        with open(args.rst, 'w') as f:
            f.write(report.rst_results(results))
    return 0


def configure(tmp, uri):
    "Write trytond.conf and the admin password; return it and trytond's env"
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
    return config, env


def create_database(uri):
    "Create the empty database; return the server's version and settings"
    import psycopg
    with psycopg.connect(uri + 'postgres', autocommit=True) as conn:
        conn.execute('CREATE DATABASE %s' % DB_NAME)
        pg_version = conn.execute('SHOW server_version').fetchone()[0]
        pg_settings = dict(conn.execute(
                "SELECT name, setting || COALESCE(unit, '') "
                "FROM pg_settings WHERE name IN ("
                "'shared_buffers', 'work_mem', 'effective_cache_size', "
                "'jit', 'max_parallel_workers_per_gather')"))
    return pg_version, pg_settings


def activate_module(config, env, deadline):
    t = time.monotonic()
    log("bench: creating the database (trytond-admin)")
    # A new database asks the admin e-mail: answer "none" (--email
    # checks the mail domain with DNS)
    admin = subprocess.run([
            os.path.join(os.path.dirname(sys.executable), 'trytond-admin'),
            '-c', config, '-d', DB_NAME, '-u', MODULE,
            '--activate-dependencies'],
        input='\n', env=env, capture_output=True, text=True,
        timeout=deadline.left())
    if admin.returncode:
        log(admin.stdout, admin.stderr)
        return False
    log("bench: database created in %.0f s" % (time.monotonic() - t))
    return True


def phase_command(args, config):
    "The command of a phase (--phase and its options are appended)"
    return [sys.executable, ENTRY,
        '--config', config, '--prospects', str(args.prospects),
        '--calls', str(args.calls), '--operators', str(args.operators),
        '--seed', str(args.seed), '--repeat', str(args.repeat),
        '--logs', str(args.logs), '--budget', str(args.budget)]


def measure_both(args, phase, env, tmp, deadline):
    "Measure with python, then python -O; return the results of each"
    results = {}
    for mode, flags in [('plain', []), ('-O', ['-O'])]:
        out = os.path.join(tmp, 'measure%s.json' % mode)
        cmd = [phase[0], *flags, *phase[1:], '--phase', 'measure',
            '--out', out]
        if args.explain and mode == 'plain':
            cmd.append('--explain')
        log("bench: measuring with python %s" % ' '.join(flags))
        subprocess.run(cmd, env=env, check=True, timeout=deadline.left())
        with open(out) as f:
            results[mode] = json.load(f)
    return results


def machine_info(pg_version, pg_settings):
    import trytond
    info = {
        'nproc': os.cpu_count(),
        'python': platform.python_version(),
        'postgresql': pg_version,
        'settings': pg_settings,
        'trytond': trytond.__version__,
        'commit': git_commit(),
        }
    cpu = proc_value('/proc/cpuinfo', 'model name')
    if cpu is not None:
        info['cpu'] = cpu
    memory = proc_value('/proc/meminfo', 'MemTotal')
    if memory is not None:
        info['memory'] = '%.1f GiB' % (int(memory.split()[0]) / 1024 ** 2)
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
