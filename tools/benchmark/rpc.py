# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The requests of the web client (sao 8.0) for the screens tools/bench
times, over JSON-RPC with tools/server/harness.py's client.

sao opens the list of an action with `search` (the limit of the action,
else 1000), `search_count` when the page is full (up to 100 pages), then
`read` of the first records with every field of the list view, the
`rec_name` of its relations, the `:string` of its selections and
`_timestamp`, `_write`, `_delete` (1000 / min(names, 10) records: 100 for
any real list).  Each is its own HTTP request and transaction.  A form
reads its record with all the fields of its view, and the first 20 records
of its lists with their own fields."""
import gzip
import http.client
import json
import time

import harness

from .common import DB_NAME

PAGE = 1000  # sao's default limit
DISPLAY = 20  # sao's display_size: rows of a form's list read at once
TIMEOUT = 900  # seconds a request may take (ten million calls)


class WebClient(harness.Client):
    """A client that asks for gzip as a browser does: without it trytond
    sends a large answer in many small chunks, and the figure would
    measure the client"""

    def post(self, body, headers=None, timeout=None):
        host, port = self.url.split('//', 1)[1].split(':')
        conn = http.client.HTTPConnection(
            host, int(port), timeout=timeout or self.timeout)
        try:
            all_headers = {'Content-Type': 'application/json',
                'Accept-Encoding': 'gzip'}
            if self.session:
                all_headers['Authorization'] = 'Session ' + session_token(
                    self.login_name, self.user_id, self.session)
            all_headers.update(headers or {})
            conn.request('POST', '/%s/rpc/' % self.database, body,
                all_headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.getheader('Content-Encoding') == 'gzip':
            data = gzip.decompress(data)
        try:
            return response.status, json.loads(
                data, object_hook=harness._decode)
        except ValueError:
            return response.status, data.decode('utf-8', 'replace')

    def timed(self, times, name, method, *params, **kwargs):
        "Call method and append (name, seconds) to times"
        start = time.perf_counter()
        try:
            return self.call(method, *params, **kwargs)
        finally:
            times.append((name, time.perf_counter() - start))


def session_token(login, user_id, session):
    import base64
    return base64.b64encode(
        ('%s:%s:%s' % (login, user_id, session)).encode()).decode()


def login(url, login_name, password):
    return WebClient(url, DB_NAME, timeout=TIMEOUT).login(
        login_name, password)


def decode(pyson, context):
    "A PYSON string of an action, evaluated as sao does"
    from trytond.pyson import PYSONDecoder
    return PYSONDecoder(dict(context)).decode(pyson) if pyson else None


def fetch_names(fields):
    "The names sao reads for the fields of a view (see the module doc)"
    names = list(fields)
    for name, field in fields.items():
        if field['type'] in {'many2one', 'one2one', 'reference'}:
            names.append(name + '.rec_name')
        elif field['type'] in {'selection', 'multiselection'}:
            names.append(name + ':string')
    if 'rec_name' not in names:
        names.append('rec_name')
    return names + ['_timestamp', '_write', '_delete']


def form_names(fields):
    """The names sao reads for a form: its lazy fields first bring all the
    fields of the view, with the fields of the lists shown in it"""
    names = list(fields)
    for name, field in fields.items():
        kind = field['type']
        if kind in {'many2one', 'one2one', 'reference'}:
            names.append(name + '.rec_name')
        elif (kind in {'selection', 'multiselection'}
                and field.get('loading', 'lazy') == 'eager'):
            names.append(name + ':string')
        elif kind in {'one2many', 'many2many'}:
            names.extend(sub_names(field, name))
    if 'rec_name' not in names:
        names.append('rec_name')
    return names + ['_timestamp', '_write', '_delete']


def sub_names(field, prefix):
    "The fields of the list a form shows for a One2Many or Many2Many"
    if not field.get('visible') or not field.get('views'):
        return []
    view, = field['views'].values()
    names = []
    for name, sub in view.get('fields', {}).items():
        names.append('%s.%s' % (prefix, name))
        if sub['type'] in {'many2one', 'one2one', 'reference'}:
            names.append('%s.%s.rec_name' % (prefix, name))
        elif sub['type'] in {'selection', 'multiselection'}:
            names.append('%s.%s:string' % (prefix, name))
    return names + ['%s.%s' % (prefix, n)
        for n in ['_timestamp', '_write', '_delete']]


class ListScreen:
    """The list of an action (its first tab), as sao opens it; the action
    and its view are read once, as sao keeps them"""

    def __init__(self, client, action, context=None, tab=0):
        self.client = client
        values = client.model(
            'ir.action.act_window', 'get', action, context=client.context)
        self.model = values['res_model']
        self.context = dict(client.context,
            **(decode(values['pyson_context'], client.context) or {}),
            **(context or {}))
        domain = decode(values['pyson_domain'], self.context) or []
        if values['domains']:
            domain = ['AND', domain,
                decode(values['domains'][tab][1], self.context)]
        self.domain = domain
        self.order = decode(values['pyson_order'], self.context) or None
        self.limit = values['limit'] or PAGE
        view_id = next(
            (v for v, kind in values['views'] if kind == 'tree'), None)
        view = client.model(self.model, 'fields_view_get', view_id, 'tree',
            context=self.context)
        self.names = fetch_names(view['fields'])
        self.batch = PAGE // min(len(self.names), 10)

    def open(self):
        "Return the requests' times, the ids found, their count and the rows"
        times = []
        call = self.client.timed
        model = 'model.%s.' % self.model
        ids = call(times, 'search', model + 'search', self.domain, 0,
            self.limit, self.order, context=self.context)
        count = len(ids)
        if count == self.limit:
            count = call(times, 'count', model + 'search_count', self.domain,
                0, self.limit * 100, context=self.context)
        rows = call(times, 'read', model + 'read', ids[:self.batch],
            self.names, context=self.context)
        return times, ids, count, rows


class Form:
    "The form of a model, as sao reads one record"

    def __init__(self, client, model, context=None):
        self.client = client
        self.model = model
        self.context = dict(client.context, **(context or {}))
        view = client.model(model, 'fields_view_get', None, 'form',
            context=self.context)
        self.names = form_names(view['fields'])
        self.context['related_read_limit'] = DISPLAY

    def read(self, times, record_id):
        row, = self.client.timed(times, 'read', 'model.%s.read' % self.model,
            [record_id], self.names, context=self.context)
        return row


def run_wizard(client, times, name, context, steps):
    """Run the wizard through steps, a list of (state, data); return the
    result of each"""
    session, _, _ = client.timed(times, 'create',
        'wizard.%s.create' % name, context=context)
    results = []
    try:
        for state, data in steps:
            if callable(data):
                data = data(results)
            results.append(client.timed(times, state,
                    'wizard.%s.execute' % name, session, data, state,
                    context=context))
    finally:
        client.timed(times, 'delete', 'wizard.%s.delete' % name, session,
            context=context)
    return results


class WizardView:
    """A state view of a wizard as sao shows it: it sets the defaults, which
    calls the on_change of the fields set and, one request each, the
    on_change_with of the fields depending on them (those depending on
    these last ones after them); then the lists shown read their records"""

    def __init__(self, client, times, result, context):
        view = result['view']
        self.client = client
        self.context = context
        self.model = view['fields_view']['model']
        self.fields = view['fields_view']['fields']
        self.state = view['state']
        self.values = {}
        defaults = view.get('defaults') or {}
        names = [n for n in defaults if n in self.fields]
        self.values.update((n, defaults[n]) for n in names)
        self.on_change(times, names)
        self.values.update(view.get('values') or {})
        self.read_lists(times, arch_fields(view['fields_view']['arch']))

    def call(self, times, name, method, *params):
        return self.client.timed(times, name,
            'model.%s.%s' % (self.model, method), *params,
            context=self.context)

    def on_change(self, times, names):
        if any(self.fields[n].get('on_change') for n in names):
            changes = self.call(times, 'on_change', 'on_change',
                dict(self.values, id=-1), names)
            for change in changes:
                self.values.update(change)
        first, later = [], []
        for name, field in self.fields.items():
            depends = set(field.get('on_change_with') or [])
            if not depends & set(names):
                continue
            (later if depends & set(first) else first).append(name)
        for name in first + later:
            self.values[name] = self.call(times, 'on_change_with',
                'on_change_with_' + name, dict(self.values))

    def read_lists(self, times, nodes):
        "The records of the lists shown (One2Many, Many2Many)"
        for name, field in self.fields.items():
            ids = self.values.get(name)
            node = nodes.get(name, {})
            if (field['type'] not in {'one2many', 'many2many'}
                    or node.get('invisible') == '1' or not ids):
                continue
            fields = list_fields(self.client, field, node, self.context)
            names = fetch_names(fields)
            self.client.timed(times, 'read ' + name,
                'model.%s.read' % field['relation'],
                ids[:PAGE // min(len(names), 10)], names,
                context=self.context)

    def data(self, **values):
        "What sao sends to execute a button of the view"
        return {self.state: dict(
                {k: v for k, v in self.values.items() if '.' not in k},
                **values)}


def arch_fields(arch):
    "The attributes of the fields of an arch, by name"
    from xml.etree import ElementTree
    return {node.get('name'): node.attrib
        for node in ElementTree.fromstring(arch).iter('field')}


_list_views = {}


def list_fields(client, field, node, context):
    """The fields of the list a form shows for the field: embedded in the
    description, else its view (view_ids of the arch) read once, as sao
    keeps the views"""
    if field.get('views'):
        view, = field['views'].values()
        return view['fields']
    view_id = (node.get('view_ids') or '').split(',')[0] or None
    key = (field['relation'], view_id)
    if key not in _list_views:
        _list_views[key] = client.model(field['relation'],
            'fields_view_get', view_id and int(view_id), 'tree',
            context=context)['fields']
    return _list_views[key]
