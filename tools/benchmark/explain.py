# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Explain phase of tools/bench (--explain): the requests of the screens
that missed a target replayed in this process with the same user, context
and arguments, the SQL they run caught from trytond's log, and EXPLAIN
(ANALYZE, BUFFERS) of the slowest SELECTs.  The server runs the same
queries: only the transport differs."""
import json
import logging
import re

import harness

from .common import DB_NAME, start_pool

SLOWEST = 3  # queries kept per screen
PLAN_LINES = 30  # lines kept of each plan


def main(args):
    pool = start_pool(args.config)
    with open(args.screens) as f:
        screens = json.load(f, object_hook=harness._decode)
    plans = {label: slowest(pool, screen)
        for label, screen in screens.items()}
    with open(args.out, 'w') as f:
        json.dump(plans, f)
    return 0


def slowest(pool, screen):
    "The slowest SELECTs of the screen's requests, with their plan"
    queries = []
    for request, func in requests(pool, screen):
        with QueryLog() as querylog:
            run(screen, func)
        queries.extend((request, q) for q in querylog.queries
            if q.lstrip().upper().startswith(('SELECT', 'WITH')))
    plans = [explain(screen, request, q) for request, q in queries]
    plans.sort(key=lambda p: p['ms'], reverse=True)
    return plans[:SLOWEST]


def requests(pool, screen):
    "The requests of the screen, as (name, function)"
    if screen['kind'] == 'next_call':
        NextCall = pool.get('sale.prospect_trace.next_call', type='wizard')
        return [('next call', NextCall.most_urgent)]
    Model = pool.get(screen['model'])
    steps = [('search', lambda: Model.search(screen['domain'], 0,
                screen['limit'], screen['order']))]
    if screen.get('count'):
        steps.append(('count', lambda: Model.search_count(
                    screen['domain'], 0, screen['limit'] * 100)))
    steps.append(('read', lambda: Model.read(
                screen['read'], screen['names'])))
    return steps


def run(screen, func):
    from trytond.transaction import Transaction, check_access
    with Transaction().start(DB_NAME, screen['user'], readonly=True,
            context=screen['context']):
        with check_access():
            func()


def explain(screen, request, query):
    from trytond.transaction import Transaction
    with Transaction().start(DB_NAME, screen['user'], readonly=True) as t:
        cursor = t.connection.cursor()
        cursor.execute('EXPLAIN (ANALYZE, BUFFERS) ' + query)
        plan = [r[0] for r in cursor]
    total = next((float(m.group(1)) for m in map(
                re.compile(r'Execution Time: ([\d.]+) ms').search, plan)
            if m), 0.0)
    return {'request': request, 'ms': total,
        'sql': query if len(query) < 1500 else query[:1500] + ' …',
        'plan': '\n'.join(plan if len(plan) <= PLAN_LINES + 2
            else plan[:PLAN_LINES] + ['  …'] + plan[-2:])}


class QueryLog:
    "Collect the SQL the ORM runs (trytond logs it at DEBUG level)"

    def __init__(self):
        self.queries = []
        self.logger = logging.getLogger('trytond.backend.postgresql.database')
        self.handler = logging.Handler()
        self.handler.emit = lambda record: self.queries.append(
            record.getMessage())

    def __enter__(self):
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)
        self.logger.propagate, self.propagate = False, self.logger.propagate
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        self.logger.propagate = self.propagate
