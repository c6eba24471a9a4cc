# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Security probes over JSON-RPC against a real trytond (tools/security-test).

A database with the module is created in a throwaway PostgreSQL cluster and
served by `trytond -d DB` on 127.0.0.1.  The admin creates the team and the
data over JSON-RPC: operator1 and operator2 ("Prospect Operation") with two
prospects each, assigned with the assignment wizard (which opens their
traces), a few calls logged by each operator, and registrar ("Prospect
Registration") with a prospect of her own.

Then each probe sends one request (or a short sequence) as one of those
users and checks the answer:

- refused: a JSON-RPC error of kind UserError (trytond sends AccessError and
  ValidationError as UserError, with their message), or for a few an HTTP
  status (401 bad session, 413 request too large); an internal error (any
  other exception: the server answers with the exception text and logs a
  traceback) fails the probe, even when it "refused" the request;
- harmless: the request is accepted and the answer shows nothing it should
  not (empty result, own records only, the value stored intact).

Around each probe the rows of the module's tables and of the security
tables (users, groups, access, rules) are digested: a probe may change only
what its expectation allows (most allow nothing).  A last check compares the
whole database before and after all the probes.  The server log must show
no traceback during a probe.

The probes of the bridge to sale opportunities ("bridge: ...", --bridge)
run on a second database where Tryton's sale_opportunity is activated too,
with a company: trytond-admin creates it in the background while the other
probes run.

Prints one line per probe and ends with "N passed, N failed".
"""
import argparse
import datetime as dt
import fnmatch
import json
import re
import time

import access_doors
import harness as h
from harness import RPCError

ACCESS = r'not allowed|cannot|not permitted|no access|Access'
TODAY = dt.date.today()
SQL_NAME = "%'; DROP TABLE sale_prospect; --"
# A traceback frame in the module's code (installed editable: its checkout)
MODULE_FRAME = re.compile(r'File "%s/(?!\.venv/)' % re.escape(h.ROOT))


class ProbeFailure(Exception):
    pass


# --- expectations -----------------------------------------------------------
# An expectation is called with (result, error, log: what the server logged
# meanwhile) and returns the detail to print, or raises ProbeFailure.

def _first_line(text, size=140):
    line = str(text).strip().splitlines()[0] if str(text).strip() else ''
    return line if len(line) <= size else line[:size] + '…'


def _unexpected(result, error):
    if error is None:
        return f'accepted, answered {_first_line(repr(result))}'
    if isinstance(error, RPCError):
        if error.kind == 'internal':
            return ('INTERNAL ERROR (not a user error): '
                + _first_line(error.message))
        return f'{error.kind}: {_first_line(error.message)}'
    return f'{type(error).__name__}: {_first_line(error)}'


def refused(pattern=ACCESS, hide=None):
    """A user error (AccessError, ValidationError...) whose message matches
    pattern and does not contain hide (a name the user may not see)"""
    def expect(result, error, log=''):
        if (isinstance(error, RPCError) and error.kind == 'UserError'
                and hide and hide in error.message):
            raise ProbeFailure(f'refused, but the message reveals {hide!r}: '
                + _first_line(error.message, 200))
        if (isinstance(error, RPCError) and error.kind == 'UserError'
                and re.search(pattern, error.message, re.I)):
            return f'refused, UserError: {_first_line(error.message)}'
        raise ProbeFailure(
            f'expected a UserError matching /{pattern}/, got '
            + _unexpected(result, error))
    return expect


def http_refused(*statuses):
    def expect(result, error, log=''):
        if (isinstance(error, RPCError) and error.kind == 'http'
                and error.status in statuses):
            return f'refused, HTTP {error.status}'
        raise ProbeFailure(
            f'expected HTTP {"/".join(map(str, statuses))}, got '
            + _unexpected(result, error))
    return expect


def answers(check, description, label='harmless'):
    "Accepted, and check(result) holds"
    def expect(result, error, log=''):
        if error is None and check(result):
            return f'{label}: {description}'
        raise ProbeFailure(f'expected {description}, got '
            + _unexpected(result, error))
    return expect


def empty():
    return answers(lambda r: r in ([], 0), 'empty answer')


def refused_or(check, description, pattern=ACCESS):
    "Either a matching user error, or accepted with check(result)"
    refuse = refused(pattern)

    def expect(result, error, log=''):
        if error is None:
            if check(result):
                return f'harmless: {description}'
            raise ProbeFailure(f'accepted but not {description}: '
                + _unexpected(result, error))
        return refuse(result, error)
    return expect


def refused_by_core(result, error, log=''):
    """A malformed domain or order: trytond itself refuses it before any
    SQL is built — with a user error, or with an internal error (KeyError,
    RecursionError: trytond 8.0 does not validate the domain's field names
    and operators over RPC), the database untouched"""
    if isinstance(error, RPCError) and error.kind == 'UserError':
        return f'refused, UserError: {_first_line(error.message)}'
    if (isinstance(error, RPCError) and error.kind == 'internal'
            and 'psycopg' not in log and not MODULE_FRAME.search(log)):
        return ('refused by trytond core before any SQL (internal error '
            f'{_first_line(error.message, 60)}, not the module\'s)')
    raise ProbeFailure('expected trytond to refuse it before any SQL, got '
        + _unexpected(result, error)
        + (' (the database was reached)' if 'psycopg' in log else ''))


def clean_report_answer(result, error, log=''):
    """A report asked with a malformed context value: refused with a user
    error, or the value ignored (a list of rows, an action)"""
    if error is None and isinstance(result, list):
        return f'harmless: value ignored, {len(result)} row(s)'
    if error is None and isinstance(result, dict):
        return 'harmless: value ignored, answered ' + _first_line(
            repr(result), 60)
    if isinstance(error, RPCError) and error.kind == 'UserError':
        return f'refused, UserError: {_first_line(error.message)}'
    raise ProbeFailure(
        'expected a UserError or the value ignored, got '
        + _unexpected(result, error))


# --- probes -----------------------------------------------------------------

class Probe:
    def __init__(self, name, run, expect, allow=(), touch_ok=False):
        """run() sends the request(s); expect(result, error) judges the
        answer; allow: (table, id or None) the probe may change; touch_ok:
        a write that changes only the write stamps is harmless"""
        self.name = name
        self.run = run
        self.expect = expect
        self.allow = list(allow)
        self.touch_ok = touch_ok

    def allowed(self, change):
        table, id_, _ = change
        return any(t == table and i in (None, id_) for t, i in self.allow)


class Runner:
    def __init__(self, server, conn, tables, patterns):
        self.server = server
        self.conn = conn
        self.tables = tables
        self.patterns = patterns
        self.passed = self.failed = 0
        self.allowed_changes = []

    def snapshot(self):
        return h.Snapshot(self.conn, self.tables)

    def __call__(self, probe):
        if self.patterns and not any(
                fnmatch.fnmatch(probe.name, f'*{p}*') for p in self.patterns):
            return
        before = self.snapshot()
        offset = self.server.log_size()
        result = error = None
        start = time.monotonic()
        try:
            result = probe.run()
        except (RPCError, OSError) as exception:
            error = exception
        duration = time.monotonic() - start
        problems = []
        log = self.server.log_since(offset)
        try:
            detail = probe.expect(result, error, log)
        except ProbeFailure as failure:
            detail = None
            problems.append(str(failure))
        changes = before.diff(
            self.snapshot(), ignore_write_stamps=probe.touch_ok)
        unexpected = [c for c in changes if not probe.allowed(c)]
        self.allowed_changes.extend(c for c in changes if probe.allowed(c))
        if unexpected:
            problems.append(
                'database changed: ' + h.format_changes(unexpected))
        if self.server.process.poll() is not None:
            problems.append('the server died')
        if 'Traceback' in log and not (
                isinstance(error, RPCError) and error.kind == 'internal'):
            problems.append('the server logged a traceback: '
                + _first_line(log.split('Traceback', 1)[1].strip()
                    .splitlines()[-1]))
        if problems:
            self.failed += 1
            print(f'FAIL {probe.name}: ' + '; '.join(problems), flush=True)
        else:
            self.passed += 1
            print(f'ok   {probe.name}: {detail} [{duration * 1000:.0f} ms]',
                flush=True)


# --- data -------------------------------------------------------------------

class Data:
    "The team and its records, created by the admin over JSON-RPC"

    def __init__(self, server, site):
        self.url = server.url
        self.site = site
        admin = self.admin = h.Client(server.url, site.name).login(
            'admin', site.ADMIN_PASSWORD)
        groups = {g['name']: g['id'] for g in admin.search_read(
                'res.group', [('name', 'like', 'Prospect %')], ['name'])}
        self.group_admin = groups['Prospect Administration']
        self.group_operator = groups['Prospect Operation']
        self.group_registrar = groups['Prospect Registration']
        self.passwords = {}
        self.users = {}
        for login, group in [
                ('operator1', self.group_operator),
                ('operator2', self.group_operator),
                ('registrar', self.group_registrar)]:
            password = f'{login}-Pa55word!'
            self.users[login], = admin.model('res.user', 'create', [{
                        'login': login, 'name': login.title(),
                        'password': password,
                        'groups': [['add', [group]]],
                        }])
            self.passwords[login] = password
        self.op1 = self.client('operator1')
        self.op2 = self.client('operator2')
        self.registrar = self.client('registrar')

        self.optics, = admin.model(
            'sale.business_unit', 'search', [('code', '=', 'optics')],
            0, None, None)
        # operator1: Alfa, Bravo; operator2: Charlie, Delta (numbers with
        # their prefix: no default country is configured)
        self.prospects = {}
        for i, name in enumerate(['Alfa', 'Bravo', 'Charlie', 'Delta']):
            self.prospects[name], = admin.model('sale.prospect', 'create', [{
                        'name': f'Optica {name}', 'city': 'Cali',
                        'business_unit': self.optics,
                        'contact_methods': [['create', [{
                                        'contact_type': 'phone',
                                        'value': f'+57 602 555 {i + 1:04d}',
                                        }]]],
                        }])
        for login, names in [
                ('operator1', ['Alfa', 'Bravo']),
                ('operator2', ['Charlie', 'Delta'])]:
            ids = [self.prospects[n] for n in names]
            admin.wizard('sale.prospect.assign', {'start': {
                        'operators': [self.users[login]],
                        'prospects': ids,
                        'business_unit': self.optics,
                        'limit': None,
                        }}, ['start', 'assign'],
                context={'active_model': 'sale.prospect',
                    'active_ids': ids, 'active_id': ids[0]})
        self.traces = {}
        for trace in admin.search_read('sale.prospect_trace', [],
                ['prospect', 'prospect_name']):
            self.traces[trace['prospect_name'].split()[-1]] = trace['id']
        assert set(self.traces) == set(self.prospects), self.traces
        self.contacts = {m['prospect']: m['id'] for m in admin.search_read(
                'prospect.contact_method', [], ['prospect'])}

        # Calls: each operator on their first prospect, one of them through
        # the "Log a call" wizard
        self.calls = {}
        for client, name in [(self.op1, 'Alfa'), (self.op2, 'Charlie')]:
            trace = self.traces[name]
            self.calls[name], = client.model('sale.call', 'create', [{
                        'prospect_trace': trace, 'interest': '0',
                        'description': f'{name}: no answer'}])
            client.wizard('sale.prospect_trace.make_call', {'start': {
                        'interest': '3', 'description': f'{name}: wants it',
                        'call_type': None, 'contact_method': None,
                        'duration': None, 'next_call': None,
                        'next_call_note': None, 'close_trace': False,
                        }}, ['start', 'log_call'],
                context={'active_model': 'sale.prospect_trace',
                    'active_id': trace, 'active_ids': [trace]})
        # The registrar registers a prospect nobody works yet
        self.prospects['Echo'], = self.registrar.model(
            'sale.prospect', 'create', [{
                    'name': 'Optica Echo',
                    'contact_methods': [['create', [{
                                    'contact_type': 'mobile',
                                    'value': '+57 312 555 0005'}]]],
                    }])
        self.own_counts = {
            'sale.prospect': 2, 'sale.prospect_trace': 2, 'sale.call': 2,
            'prospect.contact_method': 2}
        counts = {m: admin.model(m, 'search_count', [])
            for m in ['sale.prospect', 'sale.prospect_trace', 'sale.call']}
        assert counts == {'sale.prospect': 5, 'sale.prospect_trace': 4,
            'sale.call': 4}, counts

    def client(self, login):
        return h.Client(self.url, self.site.name).login(
            login, self.passwords[login])


def probes(data):
    """Yield the probes: operator1 against the records of operator2, the
    assignment wizards, the call wizard, the registrar, malformed values"""
    d = data
    op1, reg, admin = d.op1, d.registrar, d.admin
    p1, p2 = d.prospects['Alfa'], d.prospects['Charlie']
    t1, t2 = d.traces['Alfa'], d.traces['Charlie']
    c1, c2 = d.calls['Alfa'], d.calls['Charlie']
    m2 = d.contacts[p2]
    u1, u2 = d.users['operator1'], d.users['operator2']

    def rpc(client, method, *params, **kwargs):
        return lambda: client.call(method, *params, **kwargs)

    def search(client, model, domain):
        return rpc(client, f'model.{model}.search', domain, 0, None, None)

    # 0. controls: operator1 works on own records (the refusals below are
    # about whose records, not blanket denials)
    for model, record in [('sale.prospect', p1), ('sale.prospect_trace', t1),
            ('sale.call', c1), ('prospect.contact_method', d.contacts[p1])]:
        short = model.split('.')[-1]
        yield Probe(f"control: operator1 reads own {short}",
            rpc(op1, f'model.{model}.read', [record], ['id', 'rec_name']),
            answers(lambda r, record=record: [x['id'] for x in r] == [record],
                'read', label='accepted'))

    def write_read(client, model, record, values):
        def run():
            client.model(model, 'write', [record], values)
            return client.model(model, 'read', [record], list(values))[0]
        return run
    yield Probe("control: operator1 completes own call's description",
        write_read(op1, 'sale.call', c1,
            {'description': 'Alfa: no answer; retry Monday'}),
        answers(lambda r: r['description'].endswith('retry Monday'),
            'written', label='accepted'),
        allow=[('sale_call', c1)])
    yield Probe("control: operator1 comments own prospect",
        write_read(op1, 'sale.prospect', p1, {'comment': 'Owner: Ana'}),
        answers(lambda r: r['comment'] == 'Owner: Ana', 'written',
            label='accepted'),
        allow=[('sale_prospect', p1)])

    # 1. operator1 and the records of operator2
    for model, record, values in [
            ('sale.prospect', p2, {'comment': 'operator1 was here'}),
            ('sale.prospect_trace', t2, {'next_call_note': 'hijacked'}),
            ('sale.call', c2, {'description': 'rewritten by operator1'}),
            ('prospect.contact_method', m2, {'value': '+57 602 000 0000'}),
            ]:
        short = model.split('.')[-1]
        yield Probe(f"operator1 reads operator2's {short}",
            rpc(op1, f'model.{model}.read', [record], ['id', 'rec_name']),
            refused())
        yield Probe(f"operator1 searches operator2's {short} by id",
            search(op1, model, [('id', '=', record)]), empty())
        own = d.own_counts[model]
        yield Probe(f"operator1 counts {short} records",
            rpc(op1, f'model.{model}.search_count', []),
            answers(lambda n, own=own: n == own, f'own {own} records only'))
        yield Probe(f"operator1 writes operator2's {short}",
            rpc(op1, f'model.{model}.write', [record], values),
            refused(hide='Charlie'))
        yield Probe(f"operator1 deletes operator2's {short}",
            rpc(op1, f'model.{model}.delete', [record]), refused())
    yield Probe("operator1 searches prospects by operator2's name",
        search(op1, 'sale.prospect', [('rec_name', 'ilike', '%Charlie%')]),
        empty())
    yield Probe("operator1 searches prospects assigned to operator2",
        search(op1, 'sale.prospect', [('assigned_operator', '=', u2)]),
        empty())
    yield Probe("operator1 searches traces through operator2's calls",
        search(op1, 'sale.prospect_trace',
            [('calls.description', 'ilike', '%Charlie%')]), empty())
    yield Probe("operator1 reads operator2's prospect through own call",
        rpc(op1, 'model.sale.call.read', [c1, c2],
            ['prospect_trace.prospect.name']), refused())
    yield Probe("operator1 logs a call on operator2's trace (create)",
        rpc(op1, 'model.sale.call.create', [{
                    'prospect_trace': t2, 'interest': '3',
                    'description': 'intruder call'}]), refused())
    yield Probe("operator1 opens a trace on operator2's prospect",
        rpc(op1, 'model.sale.prospect_trace.create', [{
                    'prospect': p2, 'business_unit': d.optics}]), refused())
    yield Probe("operator1 adds a contact method to operator2's prospect",
        rpc(op1, 'model.prospect.contact_method.create', [{
                    'prospect': p2, 'contact_type': 'phone',
                    'value': '+57 602 555 9999'}]), refused())
    yield Probe("operator1 takes operator2's called trace into own prospect",
        rpc(op1, 'model.sale.prospect.write', [p1],
            {'traces': [['add', [t2]]]}), refused(hide='Charlie'))
    yield Probe("operator1 takes operator2's uncalled trace into own prospect",
        rpc(op1, 'model.sale.prospect.write', [p1],
            {'traces': [['add', [d.traces['Delta']]]]}), refused())
    yield Probe("operator1 moves own trace to operator2's prospect",
        rpc(op1, 'model.sale.prospect_trace.write', [d.traces['Bravo']],
            {'prospect': p2}), refused())
    yield Probe("operator1 moves own call to operator2's trace",
        rpc(op1, 'model.sale.call.write', [c1], {'prospect_trace': t2}),
        refused())

    # 2. assignment
    yield Probe("operator1 writes assigned_operator on own prospect",
        rpc(op1, 'model.sale.prospect.write', [p1],
            {'assigned_operator': u2}), refused())
    yield Probe("operator1 unassigns own prospect",
        rpc(op1, 'model.sale.prospect.write', [p1],
            {'assigned_operator': None}), refused())
    yield Probe("operator1 writes state 'unassigned' on own prospect",
        lambda: (op1.model('sale.prospect', 'write', [p1],
                {'state': 'unassigned'}),
            op1.model('sale.prospect', 'read', [p1],
                ['state', 'assigned_operator']))[1],
        refused_or(lambda r: r[0]['state'] == 'assigned'
            and r[0]['assigned_operator'] == u1, 'state unchanged'),
        touch_ok=True)
    yield Probe("operator1 creates a prospect assigned to operator2",
        rpc(op1, 'model.sale.prospect.create', [{
                    'name': 'Optica Foxtrot', 'assigned_operator': u2}]),
        refused())
    active = {'active_model': 'sale.prospect', 'active_ids': [p1, p2],
        'active_id': p1}
    for wizard in ['sale.prospect.assign', 'sale.prospect.reassign']:
        yield Probe(f"operator1 starts wizard {wizard} (create)",
            rpc(op1, f'wizard.{wizard}.create',
                context=dict(op1.context, **active)), refused())
    admin_session = {}

    def execute_admin_session(wizard, data, state):
        def run():
            session_id, _, _ = admin.call(f'wizard.{wizard}.create',
                context=dict(admin.context, **active))
            admin_session[wizard] = session_id
            return op1.call(f'wizard.{wizard}.execute', session_id, data,
                state, context=dict(op1.context, **active))
        return run
    yield Probe("operator1 executes sale.prospect.assign (admin's session)",
        execute_admin_session('sale.prospect.assign', {'start': {
                    'operators': [u1], 'prospects': [p2],
                    'business_unit': None, 'limit': None}}, 'assign'),
        refused())
    yield Probe("operator1 executes sale.prospect.reassign (admin's session)",
        execute_admin_session('sale.prospect.reassign', {'start': {
                    'from_operator': u2, 'to_operator': u1,
                    'prospects': [p2]}}, 'reassign'),
        refused())
    yield Probe("operator1 executes sale.prospect.assign, made-up session",
        rpc(op1, 'wizard.sale.prospect.assign.execute', 999999, {'start': {
                    'operators': [u1], 'prospects': [p2],
                    'business_unit': None, 'limit': None}}, 'assign',
            context=dict(op1.context, **active)), refused())

    # 3. the call wizard on a trace of operator2
    other_trace = {'active_model': 'sale.prospect_trace',
        'active_id': t2, 'active_ids': [t2]}
    log_data = {'start': {
            'interest': '3', 'description': 'logged through the wizard',
            'call_type': None, 'contact_method': None, 'duration': None,
            'next_call': None, 'next_call_note': None, 'close_trace': True}}

    def make_call(context, states):
        def run():
            ctx = dict(op1.context, **context)
            session_id, _, _ = op1.call(
                'wizard.sale.prospect_trace.make_call.create', context=ctx)
            result = None
            for state in states:
                result = op1.call(
                    'wizard.sale.prospect_trace.make_call.execute',
                    session_id, log_data, state, context=ctx)
            return result
        return run
    yield Probe("operator1 opens make_call on operator2's trace (start)",
        make_call(other_trace, ['start']), refused())
    yield Probe("operator1 logs a call on operator2's trace (make_call)",
        make_call(other_trace, ['log_call']), refused())
    yield Probe("operator1 make_call: operator2's trace id, own active_ids",
        make_call({'active_model': 'sale.prospect_trace', 'active_id': t2,
                'active_ids': [d.traces['Bravo']]}, ['log_call']),
        refused())
    def logged_on():
        make_call({'active_model': 'sale.prospect_trace',
                'active_id': d.traces['Bravo'], 'active_ids': [t2]},
            ['log_call'])()
        return [c['prospect_trace'] for c in admin.search_read('sale.call',
                [('description', '=', 'logged through the wizard')],
                ['prospect_trace'])]
    yield Probe("operator1 make_call: own trace id, operator2's in active_ids",
        logged_on, refused_or(lambda r: r == [d.traces['Bravo']],
            'the call is logged on own trace only'),
        allow=[('sale_call', None), ('sale_call_daily', None),
            ('sale_prospect_trace', d.traces['Bravo']),
            ('sale_prospect', d.prospects['Bravo'])])
    yield Probe("operator1 make_call with active_model sale.prospect",
        make_call({'active_model': 'sale.prospect', 'active_id': p2,
                'active_ids': [p2]}, ['log_call']), refused())
    yield Probe("operator1 next_call screen shows only own traces",
        lambda: op1.call('wizard.sale.prospect_trace.next_call.execute',
            op1.call('wizard.sale.prospect_trace.next_call.create')[0],
            {}, 'start'),
        answers(lambda r: r['view']['defaults']['prospect']
            in (d.prospects['Alfa'], d.prospects['Bravo']),
            'one of own traces'))

    def screen_on(trace, button):
        "The operator's screen sent back with the trace changed"
        def run():
            session_id = op1.call(
                'wizard.sale.prospect_trace.next_call.create')[0]
            op1.call('wizard.sale.prospect_trace.next_call.execute',
                session_id, {}, 'start')
            return op1.call('wizard.sale.prospect_trace.next_call.execute',
                session_id, {'call': {
                        'trace': trace, 'interest': '3',
                        'description': 'logged through the screen',
                        'skipped': [], 'logged': []}}, button)
        return run
    for button in ['no_answer', 'log', 'tomorrow_morning']:
        yield Probe(f"operator1 screen {button} on operator2's trace",
            screen_on(t2, button), refused())

    # 4. the registrar
    for model, record in [('sale.call', c2), ('sale.prospect_trace', t2)]:
        short = model.split('.')[-1]
        yield Probe(f"registrar reads a {short}",
            rpc(reg, f'model.{model}.read', [record], ['id']), refused())
        yield Probe(f"registrar searches {short} records",
            search(reg, model, []), refused())
    yield Probe("registrar reads a prospect's traces' states",
        rpc(reg, 'model.sale.prospect.read', [p2], ['traces.state']),
        refused())
    yield Probe("registrar searches prospects by their calls' descriptions",
        search(reg, 'sale.prospect',
            [('traces.calls.description', 'ilike', '%wants%')]),
        refused())
    yield Probe("registrar reads a prospect's current interest",
        rpc(reg, 'model.sale.prospect.read', [p2], ['current_interest']),
        refused())
    yield Probe("registrar assigns a prospect (write assigned_operator)",
        rpc(reg, 'model.sale.prospect.write', [d.prospects['Echo']],
            {'assigned_operator': u1}), refused())
    yield Probe("registrar reads the operator report",
        rpc(reg, 'model.sale.call.report.operator.search_read', [], 0, None,
            None, ['calls']), refused())

    # 5. sessions and request size
    def forged_session():
        forged = op1.with_url(d.url)
        forged.user_id = u2
        forged.login_name = 'operator2'
        return forged.model('sale.prospect', 'search', [], 0, None, None)
    yield Probe("operator1's session token presented as operator2",
        forged_session, http_refused(401, 403))
    yield Probe("unauthenticated 3 MB request (limit 2 MB)",
        lambda: _oversized(h.Client(d.url, d.site.name)),
        http_refused(400, 413))

    # 6. malformed values
    yield Probe("operator1 logs a call with interest '7'",
        rpc(op1, 'model.sale.call.create', [{
                    'prospect_trace': t1, 'interest': '7'}]),
        refused(r'interest'))
    yield Probe("operator1 logs a call with an SQL-looking interest",
        rpc(op1, 'model.sale.call.create', [{
                    'prospect_trace': t1,
                    'interest': "3'; DROP TABLE sale_call; --"}]),
        refused(r'interest'))
    yield Probe("operator1 logs a call with an unknown call type",
        rpc(op1, 'model.sale.call.create', [{
                    'prospect_trace': t1, 'interest': '2',
                    'call_type': 'prank_call'}]), refused(r'call type'))
    mega = 'x' * (1024 * 1024 - 9) + ' MEGA-END'

    def one_mega_call():
        call_id, = op1.model('sale.call', 'create', [{
                    'prospect_trace': t1, 'interest': '2',
                    'description': mega}])
        stored, = op1.model('sale.call', 'read', [call_id],
            ['description', 'operator'])
        return stored
    yield Probe("operator1 logs a call with a 1 MB description",
        one_mega_call,
        refused_or(lambda r: r['description'] == mega
            and r['operator'] == u1,
            'stored intact, once', pattern=r'description|size|long'),
        allow=[('sale_call', None), ('sale_call_daily', None),
            ('sale_prospect_trace', t1)],
        touch_ok=True)
    yield Probe("operator1 writes a 1 MB description on operator2's call",
        rpc(op1, 'model.sale.call.write', [c2], {'description': mega}),
        refused())

    def forged_operator_call():
        call_id, = op1.model('sale.call', 'create', [{
                    'prospect_trace': t1, 'interest': '2',
                    'description': 'in the name of operator2',
                    'operator': u2}])
        return op1.model('sale.call', 'read', [call_id], ['operator'])[0]
    yield Probe("operator1 logs a call in the name of operator2",
        forged_operator_call,
        refused_or(lambda r: r['operator'] == u1,
            'the call is operator1\'s'),
        allow=[('sale_call', None), ('sale_call_daily', None),
            ('sale_prospect_trace', t1)],
        touch_ok=True)
    yield Probe("operator1 dials a contact of operator2's prospect",
        rpc(op1, 'model.sale.call.create', [{
                    'prospect_trace': t1, 'interest': '2',
                    'contact_method': m2}]),
        refused(r'contact|not valid|domain|not allowed'))
    yield Probe("operator1 adds a malformed e-mail to own prospect",
        rpc(op1, 'model.prospect.contact_method.create', [{
                    'prospect': p1, 'contact_type': 'mail',
                    'value': 'alfa(at)optica..co'}]),
        refused(r'e-mail.*alfa\(at\)optica\.\.co.*Optica Alfa'))
    yield Probe("operator1 turns own phone into a malformed e-mail",
        rpc(op1, 'model.prospect.contact_method.write', [d.contacts[p1]],
            {'contact_type': 'mail'}),
        refused(r'e-mail.*Optica Alfa'))
    yield Probe("registrar registers a prospect with a malformed e-mail",
        rpc(reg, 'model.sale.prospect.create', [{
                    'name': 'Optica Golf',
                    'contact_methods': [['create', [{
                                    'contact_type': 'mail',
                                    'value': "golf@'; DROP TABLE x; --"}]]],
                    }]),
        refused(r'e-mail'))

    # 7. SQL-looking strings in search domains and orders
    for login, client in [('operator1', op1), ('registrar', reg),
            ('admin', admin)]:
        yield Probe(f"{login} searches prospects by an SQL-looking name",
            search(client, 'sale.prospect', [('name', 'ilike', SQL_NAME)]),
            empty())
        yield Probe(f"{login} searches prospects by an SQL-looking rec_name",
            search(client, 'sale.prospect',
                [('rec_name', 'ilike', SQL_NAME)]), empty())
    yield Probe("operator1 searches traces by an SQL-looking prospect name",
        search(op1, 'sale.prospect_trace',
            [('prospect_name', 'ilike', SQL_NAME)]), empty())
    yield Probe("operator1 searches calls by an SQL-looking description",
        search(op1, 'sale.call', [('description', 'ilike', SQL_NAME)]),
        empty())
    yield Probe("operator1 searches with an SQL-looking field name",
        search(op1, 'sale.prospect', [('name"; DROP TABLE x; --', '=', 'a')]),
        refused_by_core)
    yield Probe("operator1 searches with an SQL-looking operator",
        search(op1, 'sale.prospect', [('name', "= 'a' OR 1=1 --", 'a')]),
        refused_by_core)
    yield Probe("operator1 searches with an SQL-looking order",
        rpc(op1, 'model.sale.prospect.search', [], 0, None,
            [['name; DROP TABLE x; --', 'ASC']]), refused_by_core)
    yield Probe("operator1 searches traces by current interest '1 OR 1=1'",
        search(op1, 'sale.prospect_trace',
            [('current_interest', '=', '1 OR 1=1')]), empty())

    # 8. SQL-looking values in the context of the reports
    reports = {
        'sale.call.report.operator': ['calls'],
        'sale.call.report.operator.timeseries': ['calls'],
        'sale.prospect_trace.report.interest': ['calls'],
        'sale.prospect_trace.report.pending': ['open_traces'],
        'sale.prospect.report.assignment': ['prospects'],
        'sale.call.report.high_interest': ['calls'],
        }
    bad_context = [
        ('from_date', "2026-01-01'; --"),
        ('to_date', "2026-12-31'; --"),
        ('period', "day'); DROP TABLE x; --"),
        ('operator', '1 OR 1=1'),
        ('business_unit', '1 OR 1=1'),
        ]
    for model, fields in reports.items():
        for key, value in bad_context:
            yield Probe(f"admin {model} with context {key}={value!r}",
                rpc(admin, f'model.{model}.search_read', [], 0, None, None,
                    fields, context=dict(admin.context, **{key: value})),
                clean_report_answer)
    # The wizard opening the calls behind report rows
    wide = {'from_date': dt.date(2000, 1, 1), 'to_date': dt.date(2100, 1, 1)}
    series = 'sale.call.report.operator.timeseries'
    rows = {r['operator']: r['id'] for r in admin.search_read(
            series, [], ['operator'], context=dict(admin.context, **wide))}

    def open_calls(client, row, **context):
        def run():
            ctx = dict(client.context, active_model=series,
                active_id=row, active_ids=[row], **dict(wide, **context))
            session_id, _, _ = client.call(
                'wizard.sale.call.report.open_calls.create', context=ctx)
            return client.call('wizard.sale.call.report.open_calls.execute',
                session_id, {}, 'start', context=ctx)
        return run
    yield Probe("control: operator1 opens the calls of own report row",
        open_calls(op1, rows[u1]),
        answers(lambda r: r['actions'][0][0]['res_model'] == 'sale.call',
            'an action on sale.call', label='accepted'))
    yield Probe("operator1 opens the calls of operator2's report row",
        open_calls(op1, rows[u2]), refused())
    for key, value in bad_context:
        yield Probe(f"admin open_calls with context {key}={value!r}",
            open_calls(admin, rows[u2], **{key: value}),
            clean_report_answer)
    yield Probe("operator1 operator report with context operator=operator2",
        rpc(op1, 'model.sale.call.report.operator.search_read', [], 0, None,
            None, ['operator', 'calls'],
            context=dict(op1.context, operator=u2,
                from_date=dt.date(2000, 1, 1), to_date=dt.date(2100, 1, 1))),
        empty())
    yield Probe("operator1 high interest report shows own calls only",
        rpc(op1, 'model.sale.call.report.high_interest.search_read', [], 0,
            None, None, ['operator', 'description'],
            context=dict(op1.context, from_date=dt.date(2000, 1, 1),
                to_date=dt.date(2100, 1, 1))),
        answers(lambda r: r and all(row['operator'] == u1 for row in r),
            'own rows only'))
    yield Probe("registrar confirms a possible duplicate (skip, retry)",
        lambda: _confirm_duplicate(reg, 'Óptica Alfa S.A.S'),
        answers(lambda r: r == 1, 'saved once after the skip',
            label='accepted'),
        allow=[('sale_prospect', None), ('sale_prospect_daily', None)])


# --- the bridge to sale opportunities ---------------------------------------

BRIDGE = 'sale_opportunity'
# The party that Create Opportunity makes from a prospect without one
PARTY = [('party_party', None), ('party_address', None),
    ('party_contact_mechanism', None)]


class BridgeData(Data):
    """The same team and records on a database where Tryton's
    sale_opportunity is activated too, with a company (opportunities belong
    to one): Alfa of operator1 qualified, Charlie of operator2 an
    agreement, Bravo and Delta still leads"""

    def __init__(self, server, site):
        super().__init__(server, site)
        admin = self.admin
        currency, = admin.model('currency.currency', 'create', [{
                    'name': 'Peso colombiano', 'code': 'COP',
                    'symbol': '$', 'rounding': '0.01', 'digits': 2}])
        party, = admin.model('party.party', 'create', [{
                    'name': 'Call Center S.A.S'}])
        self.company, = admin.model('company.company', 'create', [{
                    'party': party, 'currency': currency}])
        other, = admin.model('party.party', 'create', [{
                    'name': 'Another Company S.A.S'}])
        # a company none of the operators belongs to
        self.other_company, = admin.model('company.company', 'create', [{
                    'party': other, 'currency': currency}])
        admin.model('res.user', 'write', [admin.user_id], {
                'companies': [['add', [self.company, self.other_company]]],
                'company': self.company})
        admin.model('res.user', 'write',
            [self.users[u] for u in ['operator1', 'operator2']], {
                'companies': [['add', [self.company]]],
                'company': self.company})
        # the sessions take the company from the preferences
        self.admin = admin = h.Client(server.url, site.name).login(
            'admin', site.ADMIN_PASSWORD)
        self.op1 = self.client('operator1')
        self.op2 = self.client('operator2')
        # a call of high interest may have qualified them already
        for name, stages in [('Alfa', ['qualify']),
                ('Charlie', ['qualify', 'sign_agreement'])]:
            prospect = self.prospects[name]
            for button in stages:
                stage, = admin.model('sale.prospect', 'read', [prospect],
                    ['stage'])
                if (button, stage['stage']) in {('qualify', 'lead'),
                        ('sign_agreement', 'qualified')}:
                    admin.model('sale.prospect', button, [prospect])
        stages = {r['name']: r['stage'] for r in admin.search_read(
                'sale.prospect', [], ['name', 'stage'])}
        assert stages == {'Optica Alfa': 'qualified',
            'Optica Bravo': 'lead', 'Optica Charlie': 'agreement',
            'Optica Delta': 'lead', 'Optica Echo': 'lead'}, stages


class BridgeSite:
    """The database with the module and sale_opportunity: created by
    trytond-admin in the background (activating sale_opportunity and what it
    needs takes a minute or two) while the other probes run, then served"""

    def __init__(self, keep):
        import os
        import subprocess
        import sys
        self.site = site = h.Site('security_opportunity', keep=keep)
        with h.pg_connect() as conn:
            conn.execute(f'CREATE DATABASE "{site.name}" TEMPLATE template0 '
                "ENCODING 'UTF8'")
        passfile = os.path.join(site.dir, 'admin-password')
        with open(passfile, 'w') as fp:
            fp.write(site.ADMIN_PASSWORD + '\n')
        # the admin e-mail asked on a new database: none (see harness)
        answer = os.path.join(site.dir, 'admin-email')
        with open(answer, 'w') as fp:
            fp.write('\n')
        self.log = os.path.join(site.dir, 'trytond-admin.log')
        with open(answer) as stdin, open(self.log, 'w') as out:
            self.process = subprocess.Popen([sys.executable,
                    os.path.join(h.BIN, 'trytond-admin'),
                    '-c', site.config(0), '-d', site.name,
                    '--activate-dependencies', '-u', h.MODULE, BRIDGE],
                stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, TRYTONPASSFILE=passfile))

    def serve(self, timeout=900):
        "Wait for the database; return its server"
        import sys
        status = self.process.wait(timeout=timeout)
        if status:
            with open(self.log) as fp:
                sys.stderr.write(fp.read()[-3000:])
            raise RuntimeError(f'trytond-admin failed ({status})')
        return self.site.start_server()

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()
        self.site.close()


def bridge_probes(data):
    """Yield the probes of Create Opportunity and of the links between
    prospects and sale opportunities"""
    d = data
    op1, op2, reg, admin = d.op1, d.op2, d.registrar, d.admin
    alfa, bravo = d.prospects['Alfa'], d.prospects['Bravo']
    charlie, delta = d.prospects['Charlie'], d.prospects['Delta']
    echo = d.prospects['Echo']

    def rpc(client, method, *params, **kwargs):
        return lambda: client.call(method, *params, **kwargs)

    def create(client, prospect):
        return rpc(client, 'model.sale.prospect.create_opportunity',
            [prospect])

    def opportunities(prospect):
        return admin.search_read('sale.opportunity',
            [('prospect', '=', prospect)], ['prospect', 'party', 'state'])

    def created(client, prospect, times=1):
        def run():
            for _ in range(times):
                client.model('sale.prospect', 'create_opportunity',
                    [prospect])
            return opportunities(prospect), admin.model('sale.prospect',
                'read', [prospect], ['party'])[0]['party']
        return run

    def one_linked(result):
        found, party = result
        return (len(found) == 1 and party is not None
            and found[0]['party'] == party)

    yield Probe("bridge: control: operator1 creates an opportunity for own "
        "qualified prospect",
        created(op1, alfa),
        answers(one_linked, 'one opportunity, of the party made from the '
            'prospect', label='accepted'),
        allow=[('sale_prospect', alfa), *PARTY])
    yield Probe("bridge: operator1 clicks Create Opportunity twice more",
        created(op1, alfa, times=2),
        answers(one_linked, 'still one open opportunity'),
        touch_ok=True)
    yield Probe("bridge: operator1 creates an opportunity for operator2's "
        "agreement", create(op1, charlie), refused(hide='Charlie'))
    yield Probe("bridge: operator1 creates an opportunity for operator2's "
        "lead", create(op1, delta), refused(hide='Delta'))
    # the button is hidden on a lead (trytond refuses it), and the method
    # checks the stage besides
    yield Probe("bridge: operator1 creates an opportunity for own lead",
        create(op1, bravo), refused(r'can ?not call|qualified'))
    def in_other_company():
        if admin.model('sale.prospect', 'read', [bravo],
                ['stage'])[0]['stage'] == 'lead':
            admin.model('sale.prospect', 'qualify', [bravo])
        op1.call('model.sale.prospect.create_opportunity', [bravo],
            context=dict(op1.context, company=d.other_company,
                companies=[d.other_company]))
        # what the database holds, whatever the record rules show
        with h.pg_connect(d.site.name) as conn:
            return [company for company, in conn.execute(
                    'SELECT company FROM sale_opportunity WHERE prospect = %s',
                    (bravo,))]
    yield Probe("bridge: operator1 creates an opportunity in a company not "
        "theirs (context)", in_other_company,
        refused_or(lambda r: r == [d.company],
            "an opportunity of operator1's company",
            pattern=ACCESS + '|company'),
        # the administrator qualifies the lead first: its stage is counted
        allow=[('sale_prospect', bravo), ('sale_prospect_daily', None),
            *PARTY])
    yield Probe("bridge: registrar creates an opportunity for own prospect",
        create(reg, echo), refused())
    yield Probe("bridge: operator1 reads the sale opportunities",
        rpc(op1, 'model.sale.opportunity.search_read', [], 0, None, None,
            ['prospect', 'description']), refused())
    yield Probe("bridge: operator1 reads the opportunities of own prospect",
        rpc(op1, 'model.sale.prospect.read', [alfa], ['opportunities']),
        refused())
    yield Probe("bridge: operator1 searches prospects by their opportunities",
        rpc(op1, 'model.sale.prospect.search',
            [('opportunities.description', 'ilike', '%')], 0, None, None),
        refused())
    yield Probe("bridge: operator1 creates an opportunity of operator2's "
        "prospect directly", rpc(op1, 'model.sale.opportunity.create', [{
                    'prospect': charlie, 'company': d.company,
                    'description': 'intruder'}]), refused())
    opportunity = opportunities(alfa)[0]['id'] if opportunities(alfa) else 0
    yield Probe("bridge: admin relinks an opportunity to another prospect",
        rpc(admin, 'model.sale.opportunity.write', [opportunity],
            {'prospect': charlie}),
        refused_or(lambda r: opportunities(alfa) and not opportunities(
                charlie), 'the link unchanged',
            pattern=ACCESS + '|read-only|readonly'),
        touch_ok=True)
    yield Probe("bridge: operator2 creates an opportunity for own agreement",
        created(op2, charlie),
        answers(one_linked, 'one opportunity, of the prospect\'s party',
            label='accepted'),
        allow=[('sale_prospect', charlie), *PARTY])


def _confirm_duplicate(client, name):
    """Save a prospect named like another: the warning comes, the user
    skips it ("yes") and saves again, as the clients do; return how many
    prospects have that name"""
    create = ('model.sale.prospect.create', [{'name': name}])
    try:
        client.call(*create)
    except RPCError as error:
        if error.kind != 'UserWarning':
            raise
        key = error.payload[1][0]
    else:
        raise ProbeFailure('no duplicate warning')
    client.model('res.user.warning', 'skip', key, False)
    client.call(*create)
    return client.model('sale.prospect', 'search_count',
        [('name', '=', name)])


def _oversized(client):
    """A login of 3 MB (over [request] max_size): refused whole; the same
    request of 1 kB is read (a wrong login: 401)"""
    def login(size):
        body = json.dumps({'id': 1, 'method': 'common.db.login',
                'params': ['nobody', {'password': 'x' * size}, 'en']})
        return client.post(body)
    status, _ = login(1024)
    if status not in (401, 403):
        return f'a small wrong login answered HTTP {status}, not 401'
    status, data = login(3 * 1024 * 1024)
    if status >= 400:
        raise RPCError('http', f'HTTP {status}', data, status)
    return data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-k', dest='patterns', action='append', default=[],
        help='only the probes whose name contains this pattern')
    parser.add_argument('--doors', choices=['yes', 'no', 'only'],
        default='yes', help='the generated access test (access_doors.py)')
    parser.add_argument('--keep', action='store_true',
        help='keep the temp directory (configuration, server log)')
    parser.add_argument('--bridge', choices=['yes', 'no', 'only'],
        default='yes', help='the probes of the bridge to sale_opportunity, '
        'on a second database where it is activated')
    args = parser.parse_args(argv)

    start = time.monotonic()
    bridge = None
    if args.bridge == 'only' or (args.bridge == 'yes' and (
                not args.patterns or any(
                    p in 'bridge' or 'bridge' in p for p in args.patterns))):
        bridge = BridgeSite(args.keep)
    if args.bridge == 'only':
        return bridge_main(args, bridge, start)
    site = h.Site('security', keep=args.keep)
    run = None
    try:
        site.create()
        server = site.start_server()
        print(f'security-test: trytond {h.machine()["trytond"]} on '
            f'{server.url}, database "{site.name}", PostgreSQL '
            f'{h.postgresql_version()} '
            f'(setup {time.monotonic() - start:.0f}s)',
            flush=True)
        data = Data(server, site)
        with h.pg_connect(site.name) as conn:
            tables = h.module_tables(conn) + h.SECURITY_TABLES
            run = Runner(server, conn, tables, args.patterns)
            initial = run.snapshot()
            for probe in probes(data) if args.doors != 'only' else []:
                run(probe)
            final = run.snapshot()
            if args.doors != 'no':
                passed, failed = access_doors.run(server, site, data, conn)
                run.passed += passed
                run.failed += failed
        # What the accepted probes created or wrote may differ; the
        # write stamps of the harmless no-op writes too.
        allowed = {(t, i) for t, i, _ in run.allowed_changes}
        changes = [c for c in initial.diff(final, ignore_write_stamps=True)
            if (c[0], c[1]) not in allowed]
        name = 'the database is unchanged after all the probes'
        if run.patterns:
            pass  # a selection of probes: no overall check
        elif changes:
            run.failed += 1
            print(f'FAIL {name}: {h.format_changes(changes)}')
        else:
            run.passed += 1
            counts = initial.counts()
            print(f'ok   {name}: ' + ', '.join(
                    f'{t} {counts[t]}' for t in [
                        'sale_prospect', 'sale_prospect_trace', 'sale_call',
                        'prospect_contact_method', 'res_user']
                    if t in counts)
                + f' rows; checksum {initial.checksum()} before, '
                f'{final.checksum()} after: it differs only by the rows '
                'that the accepted probes wrote')
        if args.keep:
            print(f'security-test: kept {site.dir}')
    except Exception:
        import traceback
        traceback.print_exc()
        print('FAIL security-test setup: see the traceback above')
        passed, failed = (run.passed, run.failed + 1) if run else (0, 1)
    else:
        passed, failed = run.passed, run.failed
    finally:
        site.close()
    if bridge is not None:
        bridge_passed, bridge_failed = run_bridge(args, bridge)
        passed += bridge_passed
        failed += bridge_failed
    print(f'security-test: {time.monotonic() - start:.0f}s')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


def bridge_main(args, bridge, start):
    passed, failed = run_bridge(args, bridge)
    print(f'security-test: {time.monotonic() - start:.0f}s')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


def run_bridge(args, bridge):
    """The bridge's probes on their own database; return the counts"""
    start = time.monotonic()
    site = bridge.site
    run = None
    try:
        server = bridge.serve()
        print(f'security-test: database "{site.name}" with {BRIDGE} '
            f'(waited {time.monotonic() - start:.0f}s for it)', flush=True)
        data = BridgeData(server, site)
        with h.pg_connect(site.name) as conn:
            tables = h.module_tables(conn) + h.SECURITY_TABLES
            run = Runner(server, conn, tables, args.patterns)
            for probe in bridge_probes(data):
                run(probe)
        if args.keep:
            print(f'security-test: kept {site.dir}')
    except Exception:
        import traceback
        traceback.print_exc()
        print('FAIL security-test bridge setup: see the traceback above')
        return (run.passed, run.failed + 1) if run else (0, 1)
    finally:
        bridge.close()
    return run.passed, run.failed
