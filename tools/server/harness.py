# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Run real trytond servers on a throwaway PostgreSQL cluster and talk to
them over JSON-RPC, for tools/security-test and tools/load-test.

This folder is no Python package and lies outside tests/, so the module's
unit tests (tools/run-tests) never load it.  The tools put it on sys.path.

Only the standard library and psycopg (the venv's PostgreSQL driver) are
used.  Everything listens on 127.0.0.1 only.
"""
import base64
import datetime as dt
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

MODULE = 'sale_opportunity_management'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
IN_CLUSTER = 'TRYTON_SERVER_TEST_CLUSTER'


# --- the throwaway cluster --------------------------------------------------

def run_in_cluster(argv):
    """Re-execute argv inside tools/pg-cluster unless already there.

    A marker variable tells us we are inside: a TRYTOND_DATABASE_URI that
    the developer exported for a real server must never be used."""
    if os.environ.get(IN_CLUSTER) == '1':
        return
    cmd = [os.path.join(ROOT, 'tools', 'pg-cluster'),
        'env', f'{IN_CLUSTER}=1', sys.executable, *argv]
    try:
        status = subprocess.call(cmd)
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)


def database_uri():
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    if os.environ.get(IN_CLUSTER) != '1' or not uri.startswith('postgresql'):
        sys.exit('not inside tools/pg-cluster')
    return uri


def pg_connect(dbname='postgres'):
    import psycopg
    return psycopg.connect(
        host=os.environ['PGHOST'], port=int(os.environ['PGPORT']),
        user=os.environ.get('PGUSER', 'postgres'), dbname=dbname,
        autocommit=True)


def postgresql_version():
    with pg_connect() as conn:
        return conn.execute('SHOW server_version').fetchone()[0]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Site:
    """A database with the module activated and the configuration files of
    the servers serving it, in a temp directory"""

    ADMIN_PASSWORD = 'admin-Pa55word!'

    def __init__(self, name, keep=False, tmp=None):
        self.name = name
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix=f'{name}-', dir=tmp)
        self.servers = []

    def config(self, port, extra=''):
        path = os.path.join(self.dir, f'trytond-{port}.conf')
        with open(path, 'w') as fp:
            fp.write(f"""[database]
uri = {database_uri()}
path = {os.path.join(self.dir, 'filestore')}
list = False

[web]
listen = 127.0.0.1:{port}

[session]
# the virtual users may stay quiet for a while
timeout = 3600
{extra}""")
        return path

    def create(self):
        "Create the database and activate the module with trytond-admin"
        with pg_connect() as conn:
            conn.execute(
                f'CREATE DATABASE "{self.name}" TEMPLATE template0 '
                "ENCODING 'UTF8'")
        # As doc/deployment.rst advises: trytond then builds trigram indexes
        # for the searches of a text typed anywhere in a name
        with pg_connect(self.name) as conn:
            conn.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        conf = self.config(0)
        passfile = os.path.join(self.dir, 'admin-password')
        with open(passfile, 'w') as fp:
            fp.write(self.ADMIN_PASSWORD + '\n')
        log = os.path.join(self.dir, 'trytond-admin.log')
        # The admin e-mail is asked on a new database.  --email checks the
        # address's domain in the DNS, which fails offline (CI, sandboxes):
        # answer "none" on standard input instead, as tools/demo does.
        with open(log, 'w') as out:
            status = subprocess.run([
                    sys.executable, os.path.join(BIN, 'trytond-admin'),
                    '-c', conf,
                    '-d', self.name, '--activate-dependencies', '-u', MODULE],
                input=b'\n', stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, TRYTONPASSFILE=passfile)).returncode
        if status:
            with open(log) as fp:
                sys.stderr.write(fp.read()[-3000:])
            raise RuntimeError(f'trytond-admin failed ({status})')

    def start_server(self, extra_config=''):
        server = Server(self, extra_config)
        self.servers.append(server)
        return server

    def close(self):
        for server in self.servers:
            server.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    "A trytond process serving the site's database on its own port"

    def __init__(self, site, extra_config=''):
        self.site = site
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        conf = site.config(self.port, extra_config)
        self.log_path = os.path.join(site.dir, f'trytond-{self.port}.log')
        self._log = open(self.log_path, 'wb')
        # Errors and their tracebacks go to stderr (the log file)
        # The script run by this interpreter: the same venv whatever its
        # shebang says
        self.process = subprocess.Popen([
                sys.executable, os.path.join(BIN, 'trytond'),
                '-c', conf, '-d', site.name],
            stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        self.wait_ready()

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f'trytond exited ({self.process.returncode}), see '
                    f'{self.log_path}:\n{self.log_tail()}')
            try:
                # Any HTTP answer will do (this one is 401: no session)
                Client(self.url, self.site.name).post('{}')
                return
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        raise RuntimeError(f'trytond on port {self.port} is not answering')

    def log_size(self):
        self._log.flush()
        return os.path.getsize(self.log_path)

    def log_since(self, offset):
        with open(self.log_path, 'rb') as fp:
            fp.seek(offset)
            return fp.read().decode('utf-8', 'replace')

    def log_tail(self, size=3000):
        return self.log_since(max(self.log_size() - size, 0))

    def kill(self):
        "SIGKILL: no clean up, no answer to the requests in progress"
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


# --- JSON-RPC ---------------------------------------------------------------

def _encode(obj):
    if isinstance(obj, dt.datetime):
        return {'__class__': 'datetime', 'year': obj.year,
            'month': obj.month, 'day': obj.day, 'hour': obj.hour,
            'minute': obj.minute, 'second': obj.second,
            'microsecond': obj.microsecond}
    if isinstance(obj, dt.date):
        return {'__class__': 'date',
            'year': obj.year, 'month': obj.month, 'day': obj.day}
    if isinstance(obj, dt.timedelta):
        return {'__class__': 'timedelta', 'seconds': obj.total_seconds()}
    if isinstance(obj, Decimal):
        return {'__class__': 'Decimal', 'decimal': str(obj)}
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f'cannot encode {obj!r}')


def _decode(dct):
    cls = dct.get('__class__')
    if cls == 'date':
        return dt.date(dct['year'], dct['month'], dct['day'])
    if cls == 'datetime':
        return dt.datetime(dct['year'], dct['month'], dct['day'],
            dct['hour'], dct['minute'], dct['second'], dct['microsecond'])
    if cls == 'timedelta':
        return dt.timedelta(seconds=dct['seconds'])
    if cls == 'Decimal':
        return Decimal(dct['decimal'])
    if cls == 'bytes':
        return base64.b64decode(dct['base64'])
    return dct


class RPCError(Exception):
    """A request the server answered with an error.

    kind is the class of error trytond reported:
      'UserError'  a user error, AccessError and ValidationError included
                   (trytond sends all of them as UserError);
      'UserWarning', 'LoginException', 'ConcurrencyException'...;
      'internal'   any other exception: a bug, the server answered with the
                   exception text and no user message;
      'http'       an HTTP error status (401, 403, 413, 503...) instead of a
                   JSON-RPC answer.
    """

    def __init__(self, kind, message, payload=None, status=None):
        super().__init__(f'{kind}: {message}')
        self.kind = kind
        self.message = message
        self.payload = payload
        self.status = status


USER_KINDS = {'UserError', 'UserWarning', 'LoginException',
    'ConcurrencyException', 'RateLimitException'}


def classify_error(error):
    """Return (kind, message) of the "error" member of a JSON-RPC answer.

    trytond sends TrytonException.args: (class name, arguments) — for a
    UserError ('UserError', [message, description, domain]); any other
    exception as (str(exception), traceback or '')."""
    if (isinstance(error, list) and error and error[0] in USER_KINDS):
        args = error[1] if len(error) > 1 else []
        if isinstance(args, list) and args and isinstance(args[0], str):
            message = args[0]
        else:
            message = str(args)
        return error[0], message
    if isinstance(error, list) and error:
        return 'internal', str(error[0])
    return 'internal', str(error)


class Client:
    "A JSON-RPC client of one trytond, logged in or not"

    def __init__(self, url, database, timeout=60):
        self.url = url.rstrip('/')
        self.database = database
        self.timeout = timeout
        self.session = None
        self.user_id = None
        self.login_name = None
        self.context = {}
        self._id = 0

    def with_url(self, url):
        "The same session on another server of the same database"
        other = Client(url, self.database, self.timeout)
        other.session, other.user_id = self.session, self.user_id
        other.login_name, other.context = self.login_name, self.context
        return other

    def post(self, body, headers=None, timeout=None):
        """Send a raw body; return (HTTP status, decoded JSON or text).
        OSError and http.client errors propagate: the outcome is unknown
        or the request was not delivered."""
        host, port = self.url.split('//', 1)[1].split(':')
        conn = http.client.HTTPConnection(
            host, int(port), timeout=timeout or self.timeout)
        try:
            all_headers = {'Content-Type': 'application/json'}
            if self.session:
                token = base64.b64encode(
                    f'{self.login_name}:{self.user_id}:{self.session}'
                    .encode()).decode()
                all_headers['Authorization'] = f'Session {token}'
            all_headers.update(headers or {})
            conn.request('POST', f'/{self.database}/rpc/', body, all_headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(data, object_hook=_decode)
        except ValueError:
            return response.status, data.decode('utf-8', 'replace')

    def call(self, method, *params, context=False, timeout=None):
        """Call method(*params, context); context=None sends no context
        (for the common.* methods), the default sends self.context"""
        params = list(params)
        if context is not None:
            params.append(self.context if context is False else context)
        self._id += 1
        body = json.dumps(
            {'id': self._id, 'method': method, 'params': params},
            default=_encode)
        status, data = self.post(body, timeout=timeout)
        if not isinstance(data, dict):
            raise RPCError('http', f'HTTP {status}: {str(data)[:200]}',
                data, status)
        if 'error' in data:
            kind, message = classify_error(data['error'])
            raise RPCError(kind, message, data['error'], status)
        if 'result' not in data:
            raise RPCError('http', f'HTTP {status}: {data}', data, status)
        return data['result']

    def login(self, login, password):
        result = self.call('common.db.login', login,
            {'password': password}, 'en', context=None)
        self.user_id, self.session = result[0], result[1]
        self.login_name = login
        self.context = self.call('model.res.user.get_preferences', True)
        return self

    # shortcuts
    def model(self, model, method, *params, **kwargs):
        return self.call(f'model.{model}.{method}', *params, **kwargs)

    def search_read(self, model, domain, fields, **kwargs):
        return self.model(
            model, 'search_read', domain, 0, None, None, fields, **kwargs)

    def wizard(self, name, state_data, states, context=None):
        """Run wizard name through its states, sending state_data before
        each one; return the results of the states"""
        ctx = dict(self.context, **(context or {}))
        session_id, _, end = self.call(
            f'wizard.{name}.create', context=ctx)
        results = []
        try:
            for state in states:
                results.append(self.call(f'wizard.{name}.execute',
                        session_id, state_data, state, context=ctx))
        finally:
            try:
                self.call(f'wizard.{name}.delete', session_id, context=ctx)
            except (RPCError, OSError):
                pass
        return results


def ids_of(records):
    return [r['id'] for r in records]


# --- database snapshots -----------------------------------------------------

# Besides the module's tables, the security tables: no probe may touch them
SECURITY_TABLES = [
    'res_user', 'res_group', 'res_user-res_group', 'ir_model_access',
    'ir_model_field_access', 'ir_rule_group', 'ir_rule',
    'ir_rule_group-res_group', 'party_party', 'party_contact_mechanism',
    ]
# Columns a no-op write may touch
WRITE_STAMPS = ('write_date', 'write_uid')


def module_tables(conn):
    """The tables of the module's models (report models are views built
    from a query and have none)"""
    rows = conn.execute(
        'SELECT name FROM ir_model WHERE module = %s', (MODULE,)).fetchall()
    tables = []
    for model, in sorted(rows):
        table = model.replace('.', '_')
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
            "AND table_name = %s", (table,)).fetchone()
        if exists:
            tables.append(table)
    return tables


class Snapshot:
    """Row digests of tables: {table: {id: (digest of the row, digest
    without the write stamps)}}"""

    def __init__(self, conn, tables):
        self.rows = {}
        for table in tables:
            columns = [c for c, in conn.execute(
                    'SELECT column_name FROM information_schema.columns '
                    'WHERE table_name = %s ORDER BY ordinal_position',
                    (table,))]
            content = [c for c in columns if c not in WRITE_STAMPS]
            full_expr = "md5(CAST(ROW(%s) AS text))" % ', '.join(
                f'"{c}"' for c in columns)
            content_expr = "md5(CAST(ROW(%s) AS text))" % ', '.join(
                f'"{c}"' for c in content)
            self.rows[table] = {
                id_: (full, part) for id_, full, part in conn.execute(
                    f'SELECT id, {full_expr}, {content_expr} '
                    f'FROM "{table}"')}

    def counts(self):
        return {t: len(r) for t, r in self.rows.items()}

    def checksum(self):
        digest = hashlib.sha256()
        for table in sorted(self.rows):
            for id_, (full, _) in sorted(self.rows[table].items()):
                digest.update(f'{table}:{id_}:{full}\n'.encode())
        return digest.hexdigest()[:16]

    def diff(self, other, ignore_write_stamps=False):
        """Return the changes from self to other: a list of
        (table, id, 'created'|'deleted'|'written'|'touched')"""
        changes = []
        for table in sorted(set(self.rows) | set(other.rows)):
            before = self.rows.get(table, {})
            after = other.rows.get(table, {})
            for id_ in sorted(set(before) | set(after)):
                if id_ not in before:
                    changes.append((table, id_, 'created'))
                elif id_ not in after:
                    changes.append((table, id_, 'deleted'))
                elif before[id_][1] != after[id_][1]:
                    changes.append((table, id_, 'written'))
                elif before[id_][0] != after[id_][0]:
                    if not ignore_write_stamps:
                        changes.append((table, id_, 'touched'))
        return changes


def format_changes(changes, limit=6):
    text = ', '.join(f'{t}#{i} {k}' for t, i, k in changes[:limit])
    if len(changes) > limit:
        text += f' (+{len(changes) - limit} more)'
    return text


# --- machine ----------------------------------------------------------------

def machine():
    "Describe the machine: CPU model, nproc, memory, PostgreSQL, Python"
    cpu = 'unknown'
    try:
        with open('/proc/cpuinfo') as fp:
            for line in fp:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    memory = 'unknown'
    try:
        with open('/proc/meminfo') as fp:
            for line in fp:
                if line.startswith('MemTotal:'):
                    memory = '%.1f GiB' % (int(line.split()[1]) / 1024 ** 2)
                    break
    except OSError:
        pass
    import trytond
    return {
        'cpu': cpu,
        'nproc': os.cpu_count(),
        'memory': memory,
        'postgresql': postgresql_version(),
        'python': sys.version.split()[0],
        'trytond': trytond.__version__,
        }
