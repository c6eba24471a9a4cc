# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The generated access test (tools/security-test): every door of the
module's RPC surface knocked on by each role with foreign ids.

The doors are not listed by hand: they are read from the pool of the test
database (a child process, see `surface`), so a model, an RPC method, a
button, an on_change or a wizard added later is probed without editing this
file, and a new kind of RPC method that no recipe knows fails the run
("unclassified") until someone says how to knock on it.

Who is foreign to whom:
- operator1: the prospects of operator2 and of the registrar, their contact
  methods, traces and calls; nothing of them may be answered or stored;
- registrar: every trace and call (never readable), and the prospects
  assigned to operators with their contact methods (readable by name and
  contact value, S13, but never changed).

Each door is judged as the hand-written probes are: a refusal must be a user
error (never an internal error) that names nothing foreign; an answer must
contain none of the foreign markers; and the digest of the module's tables,
the security tables, chat, notes, attachments and e-mails must be unchanged.
"""
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter

import harness as h
from harness import RPCError

# The models whose records the rules guard, and the core tables digested
# besides the module's
GUARDED = (
    'sale.prospect', 'prospect.contact_method', 'sale.prospect_trace',
    'sale.call')
CORE_TABLES = [
    'ir_chat_channel', 'ir_chat_message', 'ir_chat_follower',
    'ir_attachment', 'ir_note', 'ir_email', 'ir_email_address',
    'res_user_warning']
SECRET = 'S3CRET'


# --- the surface, read from the pool ----------------------------------------

def surface(conf, database):
    "Return the RPC surface of the module, from a child process"
    output = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--surface', conf,
            database],
        check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.splitlines()[-1])


def _describe_field(field):
    from trytond.model import fields
    relation = None
    if hasattr(field, 'model_name'):
        relation = field.model_name
    elif hasattr(field, 'get_target'):
        relation = field.get_target().__name__
    selection = field.selection if isinstance(
        getattr(field, 'selection', None), (list, tuple)) else None
    return {
        'type': field._type,
        'relation': relation,
        'readonly': field.readonly is True,
        'required': field.required is True,
        'function': isinstance(field, fields.Function),
        'searchable': field.searchable(None) if hasattr(field, 'searchable')
        else True,
        'selection': [k for k, _ in selection or [] if k is not None],
        }


def _describe_model(Model):
    from trytond.model import ModelStorage
    return {
        'storage': issubclass(Model, ModelStorage),
        'table_query': callable(getattr(Model, 'table_query', None)),
        'history': bool(getattr(Model, '_history', False)),
        # the methods instantiating their first argument
        'rpc': {n: r.instantiate == 0 for n, r in Model.__rpc__.items()},
        'field_methods': sorted(
            {f'on_change_{n}' for n in Model._fields}
            | {f'on_change_with_{n}' for n in Model._fields}
            | {f.selection for f in Model._fields.values()
                if isinstance(getattr(f, 'selection', None), str)}),
        'buttons': sorted(getattr(Model, '_buttons', {})),
        'fields': {n: _describe_field(f) for n, f in Model._fields.items()},
        'on_change': sorted(n for n in Model._fields
            if hasattr(Model, 'on_change_' + n)),
        'on_change_with': sorted(n for n in Model._fields
            if hasattr(Model, 'on_change_with_' + n)),
        }


def _describe_wizard(Wizard):
    from trytond.wizard import StateTransition, StateView
    states = {}
    for name, state in Wizard.states.items():
        if isinstance(state, StateView):
            states[name] = ('view', state.model_name)
        elif isinstance(state, StateTransition):
            states[name] = ('transition', None)
        else:
            states[name] = ('action', None)
    return {'start': Wizard.start_state, 'states': states}


def dump_surface(conf, database):
    from trytond import config
    config.update_etc(conf)
    from trytond.pool import Pool, isregisteredby
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(database)
    with Transaction().start(database, 0, readonly=True):
        pool.init()
        models = {}
        names = {n for n, m in pool.iterobject('model')
            if isregisteredby(m, h.MODULE)}
        for name in sorted(names | set(CORE_DOORS)):
            models[name] = _describe_model(pool.get(name))
        wizards = {n: _describe_wizard(w)
            for n, w in pool.iterobject('wizard')
            if isregisteredby(w, h.MODULE, 'wizard')}
        chat = [m for m, _ in pool.get('ir.chat.channel').get_models()]
    print(json.dumps({'models': models, 'wizards': wizards, 'chat': chat,
                'module': sorted(names)}))


# --- roles ------------------------------------------------------------------

class Role:
    """A user and what is foreign to them: ids per model they may not read
    (hidden) or not change (guarded), and the strings of those records that
    no answer may contain"""

    def __init__(self, name, client, hidden, guarded, markers, own):
        self.names = {}  # the name of a foreign record per model
        self.name = name
        self.client = client
        self.hidden = hidden
        self.guarded = guarded
        self.markers = markers
        self.own = own

    def unreadable(self, model):
        return self.hidden.get(model, [])

    def foreign(self, model):
        "The records the role may not change"
        return self.hidden.get(model, []) + self.guarded.get(model, [])

    def leaks(self, answer, request=''):
        "Return the first marker found in the answer and not in the request"
        def flat(value):
            return re.sub(r'[\s\-()]', '', json.dumps(
                    value, default=str, ensure_ascii=False))
        text, request = flat(answer), flat(request)
        for marker in map(flat, self.markers):
            if marker.strip('"') in text and marker.strip('"') not in request:
                return marker.strip('"')


def roles(data):
    """The roles over the data of security_probes.Data, with a secret note,
    attachment and chat message on every record, and secret notes in the
    traces and calls"""
    d, admin = data, data.admin
    mine = {'operator1': ['Alfa', 'Bravo'], 'operator2': ['Charlie', 'Delta'],
        'registrar': ['Echo']}
    names = {p: n for n, p in d.prospects.items()}
    for trace, name in [(t, n) for n, t in d.traces.items()]:
        admin.model('sale.prospect_trace', 'write', [trace],
            {'next_call_note': f'{SECRET} trace {name}'})
    for call in admin.search_read('sale.call', [], ['prospect_trace']):
        admin.model('sale.call', 'write', [call['id']],
            {'description': f'{SECRET} call'})
    for model in GUARDED:
        # The registrar may read what is written about prospects, never
        # about traces and calls
        secret = SECRET if model in {'sale.prospect_trace', 'sale.call'} \
            else 'memo'
        for record in admin.search_read(model, [], ['rec_name']):
            resource = f'{model},{record["id"]}'
            text = f'{secret} {record["rec_name"]}'
            admin.model('ir.note', 'create', [{'resource': resource,
                        'message': text}])
            admin.model('ir.attachment', 'create', [{'resource': resource,
                        'name': f'{text}.txt', 'type': 'data',
                        'data': {'__class__': 'bytes', 'base64': ''}}])
            if model in {'sale.prospect', 'sale.prospect_trace'}:
                admin.call('model.ir.chat.channel.post', resource, text,
                    'internal')
    contacts = admin.search_read(
        'prospect.contact_method', [], ['prospect', 'value', 'value_compact'])
    traces = admin.search_read('sale.prospect_trace', [], ['prospect'])
    calls = admin.search_read('sale.call', [], ['prospect'])

    def of(records, field, prospects):
        return [r['id'] for r in records if r[field] in prospects]

    others = {p for p, n in names.items() if n not in mine['operator1']}
    operator = Role('operator1', d.op1, {
            'sale.prospect': sorted(others),
            'prospect.contact_method': of(contacts, 'prospect', others),
            'sale.prospect_trace': of(traces, 'prospect', others),
            'sale.call': of(calls, 'prospect', others),
            }, {}, [names[p].split()[-1] for p in others]
        + [c['value_compact'] for c in contacts if c['prospect'] in others],
        {'sale.prospect': [d.prospects[n] for n in mine['operator1']]})
    assigned = {p for p, n in names.items() if n not in mine['registrar']}
    registrar = Role('registrar', d.registrar, {
            'sale.prospect_trace': [t['id'] for t in traces],
            'sale.call': [c['id'] for c in calls],
            }, {
            'sale.prospect': sorted(assigned),
            'prospect.contact_method': of(contacts, 'prospect', assigned),
            }, [SECRET, 'wants it', 'no answer'],
        {'sale.prospect': [d.prospects['Echo']]})
    for role in [operator, registrar]:
        for model in GUARDED:
            ids = role.foreign(model)[:1]
            if ids:
                role.names[model], = [r['rec_name'] for r in admin.model(
                        model, 'read', ids, ['rec_name'])]
    return [operator, registrar]


# --- doors ------------------------------------------------------------------

class Door:
    """One request: kind (for the counts), a name, the call, and how to
    judge an answer (by default: no marker in it)"""

    def __init__(self, kind, name, run, check=None, echo=''):
        self.kind = kind
        self.name = name
        self.run = run
        self.check = check
        self.echo = echo  # what the request sent, an error may repeat it


def value_for(field, role, ids_of):
    """A value to write in the field, reaching foreign records where the
    field can; None when there is none to give"""
    kind, relation = field['type'], field['relation']
    if kind in {'char', 'text'}:
        return 'door-test'
    if kind in {'integer', 'float', 'numeric'}:
        return 7
    if kind == 'boolean':
        return True
    if kind == 'date':
        return dt.date.today()
    if kind == 'datetime':
        return dt.datetime.now().replace(microsecond=0)
    if kind == 'timedelta':
        return dt.timedelta(minutes=5)
    if kind == 'selection' and field['selection']:
        return field['selection'][-1]
    if kind in {'many2one', 'one2one', 'reference'}:
        ids = role.foreign(relation) or ids_of(relation)
        if kind == 'reference':
            return f'{relation},{ids[0]}' if relation and ids else None
        return ids[0] if ids else None
    if kind in {'one2many', 'many2many'}:
        ids = role.foreign(relation)
        return [['add', ids]] if ids else None


def stored(model):
    return {n: f for n, f in model['fields'].items()
        if not f['function'] and n not in {
            'id', 'create_uid', 'create_date', 'write_uid', 'write_date',
            'rec_name'}}


def foreign_values(model, role, ids_of, actions=True):
    """Values of every field that can reach a foreign record; x2many values
    as actions (create, write) or as lists of ids (on_change)"""
    values = {}
    for name, field in model['fields'].items():
        if field['relation'] in GUARDED and not field['function']:
            value = value_for(field, role, ids_of)
            if value is not None:
                if not actions and isinstance(value, list):
                    value = value[0][1]
                values[name] = value
    return values


def read_fields(model):
    "The fields as a client reads them, with the names of the relations"
    names = [n for n, f in model['fields'].items() if f['type'] not in {
            'binary', 'dict'}]
    names += [f'{n}.rec_name' for n, f in model['fields'].items()
        if f['type'] in {'many2one', 'one2one'} and f['relation']]
    return names


def export_fields(model):
    return [n.replace('.', '/') for n in read_fields(model)]


def relation_searches(model, role):
    "Domains reaching the unreadable records through each relation"
    return [[(n, 'in', role.unreadable(f['relation']))]
        for n, f in model['fields'].items()
        if role.unreadable(f['relation']) and f['searchable']
        and f['type'] in {'many2one', 'one2many', 'many2many'}]


def model_doors(name, model, role, ids_of, context):
    """Yield the doors of one model for the role; an RPC method no recipe
    knows yields an "unclassified" door that fails"""
    c = role.client
    others = ids_of(name) if model['storage'] and name not in GUARDED else []
    hidden = role.unreadable(name) or others
    foreign = role.foreign(name) or others
    own = role.own.get(name, [])
    instance = dict(foreign_values(model, role, ids_of, actions=False),
        id=(hidden or foreign or [-1])[0])
    by_id = [('id', 'in', hidden)]

    def call(method, *params):
        return lambda: c.call(f'model.{name}.{method}', *params,
            context=context)

    recipes = {
        'read': lambda: [('read', call('read', hidden, read_fields(model)))],
        'search': lambda: [('search', call('search', d, 0, None, None))
            for d in [by_id] + relation_searches(model, role)],
        'search_count': lambda: [('search', call('search_count', by_id))],
        'search_read': lambda: [('search', call('search_read', by_id, 0,
                    None, None, read_fields(model)))],
        'autocomplete': lambda: [('search', call('autocomplete', 'Charl'))],
        'export_data': lambda: [('export', call(
                    'export_data', hidden, export_fields(model)))],
        'export_data_domain': lambda: [('export', call(
                    'export_data_domain', by_id, export_fields(model)))],
        'resources': lambda: [('resources', call('resources', hidden))],
        'history_revisions': lambda: [('read', call(
                    'history_revisions', hidden))] if model['history'] else [],
        'copy': lambda: [('copy', call('copy', hidden, {}))],
        'delete': lambda: [('delete', call('delete', foreign))],
        'write': lambda: write_doors(model, role, foreign, own, call, ids_of),
        'create': lambda: create_doors(model, role, call, ids_of),
        'import_data': lambda: import_doors(model, role, call),
        'on_change': lambda: [('on_change', call('on_change', instance, [f]))
            for f in model['on_change']],
        'on_change_with': lambda: [('on_change', call(
                    'on_change_with', instance, [f]))
            for f in model['on_change_with']],
        'on_change_notify': lambda: [('on_change', call(
                    'on_change_notify', instance))],
        'on_scan_code': lambda: [('on_change', call(
                    'on_scan_code', instance, 'Charlie'))],
        'pre_validate': lambda: [('on_change', call(
                    'pre_validate', instance))],
        'fields_get': lambda: [('metadata', call('fields_get', None))],
        'fields_view_get': lambda: [('metadata', call('fields_view_get'))],
        'view_toolbar_get': lambda: [('metadata', call('view_toolbar_get'))],
        'default_get': lambda: [('metadata', call(
                    'default_get', list(model['fields'])))],
        'get_digits': lambda: [('metadata', call('get_digits', hidden))],
        }
    core = CORE_DOORS.get(name, {})
    for method, instantiate in sorted(model['rpc'].items()):
        if method in model['field_methods']:
            params = [instance] if instantiate else []
            yield Door('on_change', f'{name}.{method}', call(method, *params))
        elif method in model['buttons']:
            yield Door('button', f'{name}.{method}', call(method, foreign))
        elif method in core or method in recipes:
            doors = core[method](role) if method in core else recipes[method]()
            for kind, run, *echo in doors:
                yield Door(kind, f'{name}.{method}', run,
                    RESOURCES_CHECK if method == 'resources' else None,
                    *echo)
        else:
            yield Door('unclassified', f'{name}.{method}', None)


def write_doors(model, role, ids, own, call, ids_of):
    """Write the foreign records: no value, then each stored field alone;
    write the read-only fields of the role's own records"""
    doors = [('write', call('write', ids, {}))] if ids else []
    for name, field in stored(model).items():
        value = value_for(field, role, ids_of)
        if value is None:
            continue
        if ids:
            doors.append(('write', call('write', ids, {name: value})))
        if own and field['readonly']:
            doors.append(('write readonly', call('write', own, {name: value})))
        if own and field['relation'] in GUARDED and field['type'] in {
                'one2many', 'many2many'}:
            doors.append(('write', call('write', own, {name: value})))
            hidden = role.unreadable(field['relation'])
            if hidden:
                doors.append(('write', call('write', own, {name: [
                                    ['copy', hidden]]})))
    return doors


def create_doors(model, role, call, ids_of):
    "Create a record reaching each foreign relation in turn"
    required = {n: value_for(f, role, ids_of)
        for n, f in stored(model).items() if f['required']}
    doors = []
    for name, value in foreign_values(model, role, ids_of).items():
        values = dict(required, **{name: value})
        doors.append(('create', call('create', [values])))
        hidden = role.unreadable(model['fields'][name]['relation'])
        if isinstance(value, list) and hidden:
            values = dict(values, **{name: [['copy', hidden]]})
            doors.append(('create', call('create', [values])))
    return doors


def import_doors(model, role, call):
    "Import a row naming a foreign record in each relation, by its name"
    doors = []
    for name, field in stored(model).items():
        foreign = role.names.get(field['relation'])
        if field['type'] == 'many2one' and foreign:
            doors.append(('import', call('import_data', [name], [[foreign]]),
                    foreign))
    return doors


def RESOURCES_CHECK(role, result):
    "The counts of notes and attachments of a foreign record are foreign"
    if any(v for r in result or [] for v in r.values()):
        return f'answers counts {result}'


def wizard_doors(name, wizard, role, surface_models, ids_of):
    """Run the wizard's states on foreign records, as active records of
    each guarded model and of a model the wizard does not expect"""
    c = role.client
    views = {s: m for s, (kind, m) in wizard['states'].items()
        if kind == 'view'}
    steps = [s for s, (kind, _) in wizard['states'].items()
        if kind != 'view' or s == wizard['start']]
    actives = [(m, role.foreign(m)) for m in GUARDED if role.foreign(m)]
    actives.append(('res.user', ids_of('res.user')))
    for model, ids in actives:
        context = dict(c.context, active_model=model, active_id=ids[0],
            active_ids=ids)
        data = {s: foreign_values(
                surface_models[m], role, ids_of, actions=False)
            for s, m in views.items() if m in surface_models}
        for step in steps:
            def run(step=step, context=context, data=data):
                session, _, _ = c.call(
                    f'wizard.{name}.create', context=context)
                try:
                    return c.call(f'wizard.{name}.execute', session, data,
                        step, context=context)
                finally:
                    try:
                        c.call(f'wizard.{name}.delete', session,
                            context=context)
                    except RPCError:
                        pass
            yield Door('wizard', f'{name}:{step} on {model}', run)


def chat_resource_doors(role, chat_models):
    "The doors of ir.chat.channel, ir.note, ir.attachment, ir.email"
    for model in chat_models:
        for id_ in role.hidden.get(model, [])[:1] + role.guarded.get(
                model, [])[:1]:
            yield f'{model},{id_}'


def _chat(method, *params):
    def recipe(role):
        c = role.client
        return [('core', lambda r=r: c.call(
                    f'model.ir.chat.channel.{method}', r, *params))
            for r in chat_resource_doors(role, CHAT_MODELS)]
    return recipe


def _resource(model, method):
    def recipe(role):
        c = role.client
        doors = []
        for resource in chat_resource_doors(role, GUARDED):
            domain = [('resource', '=', resource)]
            if method == 'search':
                run = (lambda d=domain: c.model(
                        model, 'search_read', d, 0, None, None, []))
            else:
                values = {'resource': resource, 'name': 'door-test',
                    'message': 'door-test', 'type': 'data'}
                run = (lambda v=values: c.model(model, 'create', [
                            {k: v[k] for k in v
                                if k in RESOURCE_FIELDS[model]}]))
            doors.append(('core', run))
        return doors
    return recipe


def _template(method):
    def recipe(role):
        c = role.client
        doors = []
        for resource in chat_resource_doors(role, ['sale.prospect']):
            model, id_ = resource.split(',')
            if method == 'get':
                run = (lambda i=int(id_): c.call(
                        'model.ir.email.template.get',
                        TEMPLATES['sale.prospect'], i))
            else:
                run = (lambda m=model, i=int(id_): c.call(
                        'model.ir.email.template.get_default', m, i))
            doors.append(('core', run))
        return doors
    return recipe


def _email_send(role):
    c = role.client
    return [('core', lambda r=r: c.call('model.ir.email.send',
                'door@example.com', '', '', 'door-test', 'door-test', None,
                r.split(',')))
        for r in chat_resource_doors(role, GUARDED)]


RESOURCE_FIELDS = {
    'ir.note': {'resource', 'message'},
    'ir.attachment': {'resource', 'name', 'type'},
    }
CHAT_MODELS = []
TEMPLATES = {}
# The core doors taking a model and an id: a recipe per RPC method (called
# with the role); their other methods fall to the generic recipes
CORE_DOORS = {
    'ir.chat.channel': {
        'get': _chat('get'),
        'post': _chat('post', 'door-test', 'internal'),
        'subscribe': _chat('subscribe'),
        'unsubscribe': _chat('unsubscribe'),
        'subscribe_email': _chat('subscribe_email', 'door@example.com'),
        'unsubscribe_email': _chat('unsubscribe_email', 'door@example.com'),
        'get_followers': _chat('get_followers'),
        'search_followers': _chat('search_followers', 'a'),
        'get_models': lambda role: [],
        },
    'ir.note': {
        'search_read': _resource('ir.note', 'search'),
        'create': _resource('ir.note', 'create'),
        },
    'ir.attachment': {
        'search_read': _resource('ir.attachment', 'search'),
        'create': _resource('ir.attachment', 'create'),
        },
    'ir.email.template': {
        'get': _template('get'),
        'get_default': _template('get_default'),
        },
    'ir.email': {
        'search_read': _resource('ir.email', 'search'),
        'send': _email_send,
        'complete': lambda role: [('core', lambda: role.client.call(
                    'model.ir.email.complete', 'Charl', 10))],
        },
    }


# --- the run ----------------------------------------------------------------

class Judge:
    "Run doors, judge them, count them"

    def __init__(self, server, conn, tables):
        self.server = server
        self.conn = conn
        self.tables = tables
        self.counts = Counter()
        self.failures = []
        self.last = self.snapshot()

    def snapshot(self):
        return h.Snapshot(self.conn, self.tables)

    def __call__(self, role, door):
        label = f'{role.name}: {door.kind} {door.name}'
        self.counts[door.kind] += 1
        if door.run is None:
            return self.fail(label, 'unclassified RPC method: give it a '
                'recipe in tools/server/access_doors.py')
        offset = self.server.log_size()
        result = error = None
        try:
            result = door.run()
        except RPCError as exception:
            error = exception
        problems = []
        if error is not None:
            if error.kind not in {'UserError', 'UserWarning'}:
                problems.append(f'{error.kind} error: {error.message[:200]}')
            elif role.leaks(error.message, door.echo):
                problems.append('the refusal names '
                    f'{role.leaks(error.message, door.echo)!r}: '
                    f'{error.message[:200]}')
        else:
            leak = role.leaks(result)
            if leak:
                problems.append(f'answers {leak!r}: '
                    + json.dumps(result, default=str)[:200])
            elif door.check:
                problem = door.check(role, result)
                if problem:
                    problems.append(problem)
        after = self.snapshot()
        changes = self.last.diff(after)
        self.last = after
        if changes:
            problems.append('stored: ' + h.format_changes(changes))
        log = self.server.log_since(offset)
        if 'Traceback' in log and not problems:
            problems.append('the server logged a traceback')
        if problems:
            self.fail(label, '; '.join(problems))

    def fail(self, label, problem):
        self.failures.append(label)
        print(f'FAIL {label}: {problem}', flush=True)


def doors(role, surface_, ids_of):
    models = surface_['models']
    context = dict(role.client.context, from_date=dt.date(2000, 1, 1),
        to_date=dt.date.today() + dt.timedelta(days=365))
    for name in sorted(models):
        yield from model_doors(name, models[name], role, ids_of, context)
    for name, wizard in sorted(surface_['wizards'].items()):
        yield from wizard_doors(name, wizard, role, models, ids_of)


def run(server, site, data, conn):
    """Knock on every door as every role; return (passed, failed)"""
    start = time.monotonic()
    surface_ = surface(site.config(0), site.name)
    CHAT_MODELS[:] = [m for m in surface_['chat'] if m in GUARDED]
    TEMPLATES['sale.prospect'], = data.admin.model('ir.email.template',
        'search', [('model.name', '=', 'sale.prospect')], 0, 1, None)
    roles_ = roles(data)
    cache = {}

    def ids_of(model):
        if model not in cache:
            try:
                cache[model] = data.admin.model(
                    model, 'search', [], 0, 3, None)
            except RPCError:
                cache[model] = []
        return cache[model]

    tables = h.module_tables(conn) + h.SECURITY_TABLES + CORE_TABLES
    judge = Judge(server, conn, tables)
    for role in roles_:
        for door in doors(role, surface_, ids_of):
            judge(role, door)
    total = sum(judge.counts.values())
    failed = len(judge.failures)
    print(f'access doors: {len(surface_["module"])} models of the module and'
        f' {len(CORE_DOORS)} core models, {len(surface_["wizards"])} '
        f'wizards, {len(roles_)} roles: {total} doors '
        + ', '.join(f'{k} {n}' for k, n in sorted(judge.counts.items()))
        + f' [{time.monotonic() - start:.0f}s]', flush=True)
    return total - failed, failed


if __name__ == '__main__' and sys.argv[1:2] == ['--surface']:
    dump_surface(*sys.argv[2:4])
