# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Fill phase of tools/bench: the operators through the ORM; prospects,
traces and calls drawn with the seed and written with COPY."""
import collections
import datetime as dt
import os
import random
import time

from .common import DB_NAME, MODULE, log, start_pool

HISTORY = 730  # the calls span that many days
BUSINESS_UNITS = ['optics', 'brigade', 'equipment']
STAGES = [('lead', 40), ('qualified', 35), ('agreement', 10),
    ('customer', 8), ('lost', 7)]
INTERESTS = [('0', 35), ('1', 30), ('2', 22), ('3', 13)]
CITIES = ['Bogotá', 'Medellín', 'Cali', 'Barranquilla', 'Cartagena',
    'Bucaramanga', 'Pereira', 'Manizales', 'Cúcuta', 'Ibagué']
WORDS = ['Óptica', 'Brigadas', 'Equipos', 'Visión', 'Salud', 'Lentes',
    'Clínica', 'Centro', 'Distribuidora', 'Laboratorio']
SUFFIXES = ['S.A.S', 'SAS', 'Ltda', 'S.A.', '']
PROSPECT_COLUMNS = ['id', 'active', 'assigned_operator', 'business_unit',
    'city', 'create_date', 'create_uid', 'name', 'name_key', 'stage',
    'state']
TRACE_COLUMNS = ['id', 'prospect', 'business_unit', 'create_date',
    'create_uid', 'next_call', 'next_call_note', 'state']
CALL_COLUMNS = ['id', 'call_type', 'create_date', 'create_uid', 'date',
    'description', 'duration', 'interest', 'operator', 'prospect_trace']

# ids of the records made through the ORM
Team = collections.namedtuple('Team', ['operators', 'units', 'admin'])


def main(args):
    started = time.monotonic()
    pool = start_pool(args.config)
    rng = random.Random(args.seed)
    team = create_team(pool, args.operators)
    log("bench: %d operators created" % len(team.operators))

    today = dt.date.today()
    now = dt.datetime.now().replace(microsecond=0)
    first_day = today - dt.timedelta(days=HISTORY)
    calls, starts = plan_calls(rng, args, first_day, today)
    prospects, traces, assigned = prospect_rows(
        rng, args.prospects, team, starts, first_day, now)
    rows = call_rows(rng, calls, assigned, team.operators)
    del calls
    log("bench: data generated in %.0f s" % (time.monotonic() - started))

    write(prospects, traces, rows)
    log("bench: %d prospects, %d traces, %d calls filled in %.0f s" % (
            len(prospects), len(traces), len(rows),
            time.monotonic() - started))
    return 0


def create_team(pool, count):
    "Create the operators; return their ids, the business units' and admin's"
    from trytond.transaction import Transaction
    with Transaction().start(DB_NAME, 0) as transaction:
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        BusinessUnit = pool.get('sale.business_unit')
        group = ModelData.get_id(MODULE, 'group_prospect_operator')
        operators = User.create([{
                    'name': 'Operator %02d' % i,
                    'login': 'operator%02d' % i,
                    'groups': [('add', [group])],
                    } for i in range(1, count + 1)])
        units = [BusinessUnit(ModelData.get_id(
                        MODULE, 'business_unit_' + code)).id
            for code in BUSINESS_UNITS]
        admin, = User.search([('login', '=', 'admin')])
        team = Team([o.id for o in operators], units, admin.id)
        transaction.commit()
    return team


def pick(rng, choices):
    "One of the (value, weight) choices"
    values, weights = zip(*choices)
    return rng.choices(values, weights, k=1)[0]


def plan_calls(rng, args, first_day, today):
    """Return the calls as (date, tie-break, trace id) in date order, and
    the date of the first call of each trace"""
    # Calls uniformly over the history on 90% of the traces, unevenly
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
    return calls, starts


def prospect_rows(rng, count, team, starts, first_day, now):
    """Return the rows of the prospects and of their trace (one each, same
    id), and the operator of each"""
    from trytond.modules.sale_opportunity_management.prospect import (
        name_key)
    prospects, traces = [], []
    assigned = {}
    for i in range(1, count + 1):
        operator = (team.operators[i % len(team.operators)]
            if rng.random() > 0.02 else None)
        unit = rng.choice(team.units) if rng.random() > 0.05 else None
        stage = pick(rng, STAGES)
        name = '%s %s %d %s' % (
            rng.choice(WORDS), rng.choice(CITIES), i, rng.choice(SUFFIXES))
        name = name.strip()
        created = creation(rng, starts.get(i), first_day)
        assigned[i] = operator
        prospects.append((i, rng.random() > 0.02, operator, unit,
                rng.choice(CITIES), created, team.admin, name,
                name_key(name), stage,
                'assigned' if operator else 'unassigned'))
        traces.append(trace_row(
                rng, i, unit, created, operator or team.admin, stage, now))
    return prospects, traces, assigned


def creation(rng, first_call, first_day):
    "The creation of a prospect: some days before its first call, if any"
    if first_call is not None:
        start = first_call - dt.timedelta(days=rng.randrange(15))
    else:
        start = first_day + dt.timedelta(days=rng.randrange(HISTORY))
    return dt.datetime.combine(start, dt.time(8)) + dt.timedelta(
        seconds=rng.randrange(10 * 3600))


def trace_row(rng, id_, unit, created, creator, stage, now):
    closed = stage in {'customer', 'lost'} or rng.random() < 0.08
    next_call = None
    if not closed and rng.random() < 0.35:
        next_call = now + dt.timedelta(
            minutes=rng.randrange(-10 * 24 * 60, 20 * 24 * 60))
    return (id_, id_, unit, created, creator, next_call,
        'Call back' if next_call else None, 'closed' if closed else 'open')


def call_rows(rng, calls, assigned, operators):
    "The rows of the calls, mostly by the operator of the prospect"
    first = set()
    rows = []
    for call_id, (date, _, trace_id) in enumerate(calls, 1):
        operator = assigned[trace_id]
        if operator is None or rng.random() < 0.05:
            operator = rng.choice(operators)
        interest = pick(rng, INTERESTS)
        if trace_id in first:
            call_type = 'followup_call'
        else:
            call_type = 'first_call'
            first.add(trace_id)
        created = dt.datetime.combine(date, dt.time(8)) + dt.timedelta(
            seconds=rng.randrange(10 * 3600))
        description = call_description(rng, interest)
        duration = (None if interest == '0'
            else dt.timedelta(seconds=rng.randrange(30, 900)))
        rows.append((call_id, call_type, created, operator, date,
                description, duration, interest, operator, trace_id))
    return rows


def call_description(rng, interest):
    if interest == '3':
        return 'Send a quote for %d units' % rng.randrange(1, 50)
    elif rng.random() < 0.2:
        return 'Asked to call back later'
    return None


def write(prospects, traces, calls):
    "Copy the rows, move the id sequences past them and VACUUM ANALYZE"
    import psycopg
    uri = os.environ['TRYTOND_DATABASE_URI']
    tables = [('sale_prospect', PROSPECT_COLUMNS, prospects),
        ('sale_prospect_trace', TRACE_COLUMNS, traces),
        ('sale_call', CALL_COLUMNS, calls)]
    with psycopg.connect(uri + DB_NAME) as conn:
        with conn.cursor() as cursor:
            for table, columns, rows in tables:
                copy(cursor, table, columns, rows)
            for table, _, _ in tables:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    "(SELECT max(id) FROM " + table + "))", (table,))
        conn.commit()
        conn.autocommit = True
        for table in ['sale_prospect', 'sale_prospect_trace', 'sale_call',
                'res_user']:
            conn.execute('VACUUM ANALYZE ' + table)


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
