# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The results of tools/bench: one table of both measures (python and
python -O), as text on stdout or in reStructuredText."""
from .common import LIMIT, LOG_TARGET

HEADER = ['measure', 'rows', 'SQL ms', 'query ms', 'ORM ms', 'ORM -O ms',
    'ratio', 'ratio -O', 'target', 'totals', 'result', 'result -O',
    'client ms', 'client -O ms']
TOO_SLOW = '> %d000' % LIMIT


def ms(seconds):
    return '%.1f' % (seconds * 1000) if seconds is not None else '-'


def verdict(ok):
    return 'PASS' if ok else 'MISS'


def rows_of(results):
    "Yield the figures of each measure with python and with python -O"
    plain, optimized = results['plain'], results['-O']
    for item in plain['items']:
        other = next(
            i for i in optimized['items'] if i['label'] == item['label'])
        yield item, other


def orm_ms(item):
    return TOO_SLOW if item['orm'] is None else ms(item['orm'])


def client_ms(item):
    if 'client' not in item:
        return '-'
    return ms(item['client']) if item['client'] else TOO_SLOW


def log_line(item, other):
    return [item['label'], str(item['rows']), '-', '-',
        orm_ms(item), orm_ms(other), '-', '-',
        '< %.0f ms' % (LOG_TARGET * 1000), '-',
        verdict(item['orm'] < LOG_TARGET),
        verdict(other['orm'] < LOG_TARGET), '-', '-']


def compare_line(item, other):
    "The line of a measure of the ORM against SQL"
    target = item['target']
    ratios = [None if figures['orm'] is None
        else figures['orm'] / figures['sql'] for figures in [item, other]]
    checked = [i['same'] for i in [item, other] if i['orm'] is not None]
    query = (TOO_SLOW if item.get('query_timeout')
        else ms(item.get('query')))
    return [item['label'], str(item['rows']), ms(item['sql']),
        query, orm_ms(item), orm_ms(other),
        *('%.2f' % r if r is not None else '-' for r in ratios),
        '≤ %g×' % target,
        '-' if not checked else ('same' if all(checked) else 'DIFFER'),
        *(verdict(r is not None and r <= target and i['same'])
            for r, i in zip(ratios, [item, other])),
        *(client_ms(i) for i in [item, other])]


def table_lines(results):
    lines = [log_line(item, other) if item['kind'] == 'log'
        else compare_line(item, other)
        for item, other in rows_of(results)]
    return HEADER, lines


def column_widths(header, lines):
    return [max(len(r[i]) for r in [header, *lines])
        for i in range(len(header))]


def print_results(results, machine, args):
    print_heading(results, machine, args)
    print()
    print_table(*table_lines(results))
    print()
    print_differences(results)
    print("data filled in %.0f s, whole run %.0f s" % (
            machine['fill'], machine['total']))
    print_plans(results['plain'].get('explain'))


def print_heading(results, machine, args):
    print()
    print("sale_opportunity_management benchmark: %d operators, "
        "%d prospects, %d traces, %d calls; reports on %s .. %s" % (
            args.operators, args.prospects, args.prospects, args.calls,
            results['plain']['from_date'], results['plain']['to_date']))
    print("machine: %s CPU(s) %s, %s, PostgreSQL %s, Python %s, trytond %s; "
        "module at %s" % (machine['nproc'], machine.get('cpu', '?'),
            machine.get('memory', '?'), machine['postgresql'],
            machine['python'], machine['trytond'], machine['commit']))
    print("PostgreSQL settings: %s" % ', '.join(
            '%s=%s' % i for i in sorted(machine['settings'].items())))
    print("SQL = hand-written query, query = the report's table_query() run "
        "bare, ORM = search_read/read/create, client = search then read in "
        "two transactions; medians (p95 for the log)")


def print_table(header, lines):
    widths = column_widths(header, lines)
    for row in [header, None, *lines]:
        if row is None:
            print('  '.join('-' * w for w in widths))
            continue
        print('  '.join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths))))


def print_differences(results):
    "The totals of the measures where the ORM and SQL disagree"
    for item, other in rows_of(results):
        for mode, figures in [('', item), (' -O', other)]:
            if (figures['kind'] != 'log' and figures['orm'] is not None
                    and not figures['same']):
                print("totals of %s%s: ORM %s, SQL %s" % (
                        figures['label'], mode, figures['orm_totals'],
                        figures['sql_totals']))


def print_plans(explain):
    "The EXPLAIN ANALYZE of the queries of each report (--explain)"
    if not explain:
        return
    print()
    for label, plans in explain.items():
        for plan in plans:
            print('=== %s' % label)
            print(plan)
            print()


def rst_results(results):
    header, lines = table_lines(results)
    widths = column_widths(header, lines)
    border = '  '.join('=' * w for w in widths)

    def line(row):
        return '  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
    return '\n'.join(
        [border, line(header), border, *map(line, lines), border]) + '\n'
