# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The results of tools/bench: one table of the screens, as text on stdout
or in reStructuredText, and the EXPLAIN summaries."""
from .common import LIMIT, RATIO_TARGET, SCREEN_TARGET

HEADER = ['screen', 'rows', 'SQL ms', 'screen ms', 'ratio', 'same rows',
    '≤ %g×' % RATIO_TARGET, '< %d ms' % (SCREEN_TARGET * 1000),
    'requests (ms)']


def ms(seconds):
    return '%.1f' % (seconds * 1000) if seconds is not None else '-'


def ratio(item):
    "The screen over its SQL, when both give the same rows"
    if item['sql'] and item['screen'] and item['same']:
        return item['screen'] / item['sql']
    return None


def line(item):
    r = ratio(item)
    requests = ' + '.join('%s %s' % (n, ms(t)) for n, t in item['requests'])
    if item['kind'] == 'log':
        requests = 'median %s: %s' % (ms(item['median']), requests)
    sql = ('> %d000' % LIMIT if item.get('sql_failed')
        else ms(item['sql']))
    return [item['label'], item['rows'], sql,
        ms(item['screen']) if item['screen'] is not None
        else '> %d000' % LIMIT,
        '%.2f' % r if r is not None else '-',
        {None: '-', True: 'yes', False: 'NO'}[item['same']],
        '-' if r is None else verdict(r <= RATIO_TARGET),
        verdict(item['screen'] is not None
            and item['screen'] < SCREEN_TARGET),
        requests]


def verdict(ok):
    return 'PASS' if ok else 'MISS'


def column_widths(header, lines):
    return [max(len(r[i]) for r in [header, *lines])
        for i in range(len(header))]


def print_results(items, machine, args, plans=None):
    print()
    print("sale_opportunity_management benchmark: %d operators, "
        "%d prospects, %d traces, %d calls; reports on %s .. %s" % (
            args.operators, args.prospects, args.prospects, args.calls,
            machine['from_date'], machine['to_date']))
    print("machine: %s CPU(s) %s, %s, PostgreSQL %s, Python %s, trytond %s "
        "(PYTHONOPTIMIZE=%s); module at %s" % (
            machine['nproc'], machine.get('cpu', '?'),
            machine.get('memory', '?'), machine['postgresql'],
            machine['python'], machine['trytond'], machine['optimize'],
            machine['commit']))
    print("PostgreSQL settings: %s" % ', '.join(
            '%s=%s' % i for i in sorted(machine['settings'].items())))
    print("load average (1, 5, 15 min): %s" % machine['load'])
    print("screen = the requests of the web client over JSON-RPC, one "
        "after the other (median of the runs; p95 for logging a call); "
        "SQL = hand-written queries giving the same rows")
    print()
    lines = [line(i) for i in items]
    widths = column_widths(HEADER, lines)
    for row in [HEADER, None, *lines]:
        if row is None:
            print('  '.join('-' * w for w in widths))
            continue
        print('  '.join(c.ljust(w) if i in {0, 8} else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    print()
    print("times: %s" % ', '.join(
            '%s %.0f s' % i for i in machine['phases'].items()))
    print_plans(plans)


def print_plans(plans):
    "The EXPLAIN ANALYZE summaries of the slowest queries (--explain)"
    for label, queries in (plans or {}).items():
        print()
        print('=== %s' % label)
        for query in queries:
            print('--- %.1f ms, %s' % (query['ms'], query['request']))
            print(query['sql'])
            print(query['plan'])


def rst_table(items):
    lines = [line(i) for i in items]
    widths = column_widths(HEADER, lines)
    border = '  '.join('=' * w for w in widths)

    def row(cells):
        return '  '.join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return '\n'.join(
        [border, row(HEADER), border, *map(row, lines), border]) + '\n'
