# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Fill phase of tools/bench: the operators through the ORM; prospects,
traces and calls drawn in PostgreSQL itself (generate_series and random()
from a fixed seed), which fills ten million calls in minutes where rows
built in Python would take a quarter of an hour and gigabytes of memory."""
import datetime as dt
import json
import os
import time

from .common import DB_NAME, MODULE, PASSWORD, log, start_pool

HISTORY = 730  # the calls span that many days
PROSPECTS_BEFORE = 30  # days: the prospects are created before the calls
BUSINESS_UNITS = ['optics', 'brigade', 'equipment']
INTERESTS = [('0', 35), ('1', 30), ('2', 22), ('3', 13)]
CITIES = ['Bogotá', 'Medellín', 'Cali', 'Barranquilla', 'Cartagena',
    'Bucaramanga', 'Pereira', 'Manizales', 'Cúcuta', 'Ibagué']
WORDS = ['Óptica', 'Brigadas', 'Equipos', 'Visión', 'Salud', 'Lentes',
    'Clínica', 'Centro', 'Distribuidora', 'Laboratorio']
SUFFIXES = ['S.A.S', 'SAS', 'Ltda', 'S.A.', '']
NUMBER = '4242424242'  # stands for the prospect's number in a name
TABLES = ['sale_prospect', 'prospect_contact_method', 'sale_prospect_trace',
    'sale_call']


def main(args):
    started = time.monotonic()
    pool = start_pool(args.config)
    team = create_team(pool, args.operators)
    log("bench: %d operators created" % len(team['operators']))
    import psycopg
    uri = os.environ['TRYTOND_DATABASE_URI']
    with psycopg.connect(uri + DB_NAME, autocommit=True) as conn:
        fill(conn, args, team, key_templates())
        check_keys(conn)
        count_per_day(pool)
        vacuum(conn)
        tune(conn)
    log("bench: %d prospects and traces, %d calls filled in %.0f s" % (
            args.prospects, args.calls, time.monotonic() - started))
    with open(args.out, 'w') as f:
        json.dump(team, f)
    return 0


def create_team(pool, count):
    """Create the operators, with a password (hashed once: they share it);
    return their ids and logins, the business units' and the admin's"""
    from trytond.transaction import Transaction
    with Transaction().start(DB_NAME, 0) as transaction:
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        group = ModelData.get_id(MODULE, 'group_prospect_operator')
        logins = ['operator%02d' % i for i in range(1, count + 1)]
        operators = User.create([{
                    'name': 'Operator %s' % login[-2:], 'login': login,
                    'groups': [('add', [group])],
                    } for login in logins])
        cursor = transaction.connection.cursor()
        cursor.execute('UPDATE res_user SET password_hash = %s '
            'WHERE id = ANY(%s)', (User.hash_password(PASSWORD),
                [o.id for o in operators]))
        units = [ModelData.get_id(MODULE, 'business_unit_' + code)
            for code in BUSINESS_UNITS]
        admin, = User.search([('login', '=', 'admin')])
        transaction.commit()
    return {'operators': [o.id for o in operators], 'logins': logins,
        'units': units, 'admin': admin.id}


def key_templates():
    """The name key of each (word, city, suffix), NUMBER standing for the
    prospect's number: the keys are filled in SQL from them"""
    from trytond.modules.sale_opportunity_management.prospect import (
        name_key)
    return [[name_key(' '.join(filter(None, [w, c, NUMBER, s])))
            for s in SUFFIXES for c in CITIES] for w in WORDS]


def fill(conn, args, team, templates):
    "Write the rows with the indexes dropped, then build them again"
    today = dt.date.today()
    params = {
        'prospects': args.prospects, 'calls': args.calls,
        'operators': team['operators'], 'units': team['units'],
        'admin': team['admin'], 'templates': templates,
        'first_day': today - dt.timedelta(days=HISTORY),
        'history': HISTORY, 'before': PROSPECTS_BEFORE,
        'now': dt.datetime.now().replace(microsecond=0),
        'words': WORDS, 'cities': CITIES, 'suffixes': SUFFIXES,
        'number': NUMBER,
        }
    # Foreign keys unchecked (the rows are made consistent), memory for
    # the sorts and the index builds
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET work_mem = '512MB'")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SELECT setseed(%s)", (args.seed % 1000 / 1000,))
    indexes = drop_indexes(conn)
    for label, sql in [('prospects', PROSPECTS), ('contacts', CONTACTS),
            ('traces', TRACES),
            ('nothing due for the first operator', NOTHING_DUE),
            ('calls planned', CALL_PLAN), ('calls', CALLS),
            ('calls counted on their traces', CALL_COUNTS),
            ('plan dropped', 'DROP TABLE bench_call')]:
        t = time.monotonic()
        conn.execute(sql, params if '%(' in sql else None)
        log("bench:   %s in %.0f s" % (label, time.monotonic() - t))
    t = time.monotonic()
    for sql in indexes:
        conn.execute(sql)
    for table in TABLES:
        conn.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            "(SELECT max(id) FROM " + table + "))", (table,))
    log("bench:   indexes built in %.0f s" % (time.monotonic() - t))


def drop_indexes(conn):
    "Drop the indexes that back no constraint; return how to build them"
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = "
        "ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        (TABLES,)).fetchall()
    for name, _ in rows:
        conn.execute('DROP INDEX "%s"' % name)
    return [definition for _, definition in rows]


# Prospects in all stages, 2% unassigned, 5% without business unit, 2%
# inactive, created in the month before the calls start; the agreements
# and the customers agreed up to half a year after, the customers and the
# lost prospects got there up to half a year later (the funnel's average
# days to customer)
PROSPECTS = """
INSERT INTO sale_prospect (id, active, assigned_operator, business_unit,
    city, create_date, create_uid, name, name_key, stage, state,
    agreement_date, customer_date, lost_date)
SELECT id, random() > 0.02, operator, unit, (%(cities)s::text[])[c],
    created, %(admin)s,
    concat_ws(' ', (%(words)s::text[])[w], (%(cities)s::text[])[c], id,
        nullif((%(suffixes)s::text[])[s], '')),
    replace((%(templates)s::text[])[w][(s - 1) * 10 + c], %(number)s,
        id::text),
    CASE WHEN r < 0.40 THEN 'lead' WHEN r < 0.75 THEN 'qualified'
        WHEN r < 0.85 THEN 'agreement' WHEN r < 0.93 THEN 'customer'
        ELSE 'lost' END,
    CASE WHEN operator IS NULL THEN 'unassigned' ELSE 'assigned' END,
    CASE WHEN r >= 0.75 AND r < 0.93 THEN created::date + agreed END,
    CASE WHEN r >= 0.85 AND r < 0.93 THEN created::date + agreed + later END,
    CASE WHEN r >= 0.93 THEN created::date + agreed + later END
FROM (SELECT id,
        CASE WHEN random() < 0.02 THEN NULL
            ELSE (%(operators)s::int[])[
                1 + id %% cardinality(%(operators)s::int[])] END
            AS operator,
        CASE WHEN random() < 0.05 THEN NULL
            ELSE (%(units)s::int[])[1 + floor(random() * 3)::int] END
            AS unit,
        1 + floor(random() * 10)::int AS w,
        1 + floor(random() * 10)::int AS c,
        1 + floor(random() * 5)::int AS s,
        random() AS r,
        %(first_day)s::timestamp - %(before)s * interval '1 day'
            + random() * %(before)s * interval '1 day' AS created,
        floor(random() * 180)::int AS agreed,
        floor(random() * 180)::int AS later
    FROM generate_series(1, %(prospects)s) AS id) AS p
"""

# A phone number per prospect, with its id, as the module writes it
CONTACTS = """
INSERT INTO prospect_contact_method (id, active, contact_type, create_date,
    create_uid, prospect, sequence, value, value_compact)
SELECT id, true, 'phone', create_date, create_uid, id, 10,
    '+57 601 ' || (2000000 + id), '+57601' || (2000000 + id)
FROM sale_prospect
"""

# One trace per prospect, with its id, calling its phone; closed for
# customers, lost prospects and 8% of the others; a third of the open ones
# with a next call between ten days ago and twenty days ahead
TRACES = """
INSERT INTO sale_prospect_trace (id, prospect, prospect_contact,
    business_unit, operator, call_count_cache, create_date, create_uid,
    next_call, next_call_note, state)
SELECT id, id, id, business_unit, assigned_operator, 0, create_date,
    coalesce(assigned_operator, %(admin)s), next_call,
    CASE WHEN next_call IS NOT NULL THEN 'Call back' END,
    CASE WHEN closed THEN 'closed' ELSE 'open' END
FROM (SELECT p.*,
        CASE WHEN NOT closed AND random() < 0.35
            THEN %(now)s::timestamp - interval '10 days'
                + date_trunc('minute', random() * interval '30 days') END
            AS next_call
    FROM (SELECT *, stage IN ('customer', 'lost') OR random() < 0.08
            AS closed
        FROM sale_prospect) AS p) AS t
"""

# The first operator has nothing due: their Next call looks for a trace
# never called
NOTHING_DUE = """
UPDATE sale_prospect_trace t SET next_call = next_call + interval '11 days'
FROM sale_prospect p
WHERE p.id = t.prospect AND t.state = 'open'
AND p.assigned_operator = (%(operators)s::int[])[1]
AND t.next_call < %(now)s::timestamp + interval '1 day'
"""

# How many calls each trace gets: none for 10% of them, else in proportion
# to a log-normal weight (Box-Muller), rounded so that they add up to the
# calls asked; then one row per call in a random order, which makes the ids
CALL_PLAN = """
CREATE TEMP TABLE bench_call AS
WITH weight AS (
    SELECT t.id AS trace, p.assigned_operator AS operator,
        CASE WHEN random() < 0.10 THEN 0
            ELSE exp(0.8 * sqrt(-2 * ln(1 - random()))
                * cos(2 * pi() * random())) END AS w
    FROM sale_prospect_trace t JOIN sale_prospect p ON p.id = t.prospect),
cumulated AS (
    SELECT trace, operator,
        sum(w) OVER (ORDER BY trace) / sum(w) OVER () AS upto,
        coalesce(sum(w) OVER (ORDER BY trace
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
            / sum(w) OVER () AS since
    FROM weight),
counted AS (
    SELECT trace, operator,
        round(upto * %(calls)s)::int - round(since * %(calls)s)::int AS n
    FROM cumulated)
SELECT row_number() OVER (ORDER BY random()) AS id, trace, operator
FROM counted, generate_series(1, n)
"""

# The calls, in the order of their ids as when they are logged: dates
# follow the ids over the history; mostly by the trace's operator;
# interests 0 to 3 in proportions 35/30/22/13; the trace's phone; the
# first call of each trace a first call, the others follow-ups; the date of
# the following call of the trace as the module keeps it
CALLS = """
INSERT INTO sale_call (id, call_type, contact_method, create_date,
    create_uid, date, description, duration, interest, operator,
    prospect_trace, following_date_cache)
SELECT id, CASE WHEN id = first THEN 'first_call' ELSE 'followup_call' END,
    trace, date + interval '8 hours' + random() * interval '10 hours',
    operator, date,
    CASE WHEN interest = '3'
        THEN 'Send a quote for ' || (1 + floor(random() * 49)) || ' units'
        WHEN random() < 0.2 THEN 'Asked to call back later' END,
    CASE WHEN interest <> '0'
        THEN make_interval(secs => 30 + floor(random() * 870)) END,
    interest, operator, trace,
    lead(date) OVER (PARTITION BY trace ORDER BY date, id)
FROM (SELECT id, trace, first,
        %(first_day)s::date
            + ((id - 1) * (%(history)s + 1) / %(calls)s)::int AS date,
        CASE WHEN operator IS NULL OR random() < 0.05
            THEN (%(operators)s::int[])[
                1 + floor(random() * cardinality(%(operators)s::int[]))::int]
            ELSE operator END AS operator,
        CASE WHEN r < 0.35 THEN '0' WHEN r < 0.65 THEN '1'
            WHEN r < 0.87 THEN '2' ELSE '3' END AS interest
    FROM (SELECT c.*, f.first, random() AS r FROM bench_call c
        JOIN (SELECT trace, min(id) AS first FROM bench_call
            GROUP BY trace) AS f USING (trace)) AS c) AS c
ORDER BY id
"""

# The count of calls and the date of the last one the module keeps on
# each trace
CALL_COUNTS = """
UPDATE sale_prospect_trace t SET call_count_cache = c.calls,
    last_call_date_cache = c.last_date
FROM (SELECT prospect_trace, count(*) AS calls, max(date) AS last_date
    FROM sale_call GROUP BY prospect_trace) AS c
WHERE c.prospect_trace = t.id
"""


def count_per_day(pool):
    """Count the calls and the prospects per day as the module does when
    they are logged and changed"""
    from trytond.transaction import Transaction
    t = time.monotonic()
    with Transaction().start(DB_NAME, 0) as transaction:
        pool.get('sale.call.daily').rebuild()
        pool.get('sale.prospect.daily').rebuild()
        transaction.commit()
    log("bench:   calls and prospects counted per day in %.0f s"
        % (time.monotonic() - t))


def check_keys(conn):
    "The name keys and compact phones made in SQL must be the module's"
    from trytond.modules.sale_opportunity_management.contact_method import (
        compact_phone)
    from trytond.modules.sale_opportunity_management.prospect import (
        name_key)
    rows = conn.execute("SELECT p.name, p.name_key, c.value, "
        "c.value_compact FROM sale_prospect p "
        "JOIN prospect_contact_method c ON c.prospect = p.id "
        "ORDER BY p.id LIMIT 1000").fetchall()
    wrong = [r for r in rows
        if (name_key(r[0]), compact_phone(r[2])) != (r[1], r[3])]
    if wrong:
        raise ValueError("keys differ from the module's: %s" % wrong[:3])


# The per-query settings of doc/deployment.rst (shared_buffers and
# effective_cache_size are the cluster's and the machine's)
SETTINGS = {'work_mem': '32MB', 'jit': 'off', 'random_page_cost': '1.1'}


def tune(conn):
    "Set the database as doc/deployment.rst advises, for the server to come"
    for name, value in SETTINGS.items():
        conn.execute("ALTER DATABASE \"%s\" SET %s = '%s'" % (
                DB_NAME, name, value))


def vacuum(conn):
    "Statistics and an all-visible map, as a long-lived database has"
    t = time.monotonic()
    for table in TABLES + ['sale_call_daily', 'sale_prospect_daily',
            'res_user']:
        conn.execute('VACUUM (FREEZE, ANALYZE) ' + table)
    log("bench:   vacuumed in %.0f s" % (time.monotonic() - t))
