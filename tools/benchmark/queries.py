# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The hand-written SQL that tools/bench measures the ORM against: for each
report the same rows as its table_query, and the trace list's fields."""
import datetime as dt

# The administrator has no company: only the calls without company
CALLS_WHERE = ('c.date >= %s AND c.date <= %s '
    'AND (c.company IS NULL)')
INTEREST_COUNTS = ', '.join(
    "count(*) FILTER (WHERE c.interest = '%s') AS interest_%s" % (i, i)
    for i in '0123')

OPERATOR = (
    "SELECT min(c.id) AS id, c.operator, t.business_unit, "
    "count(*) AS calls, "
    "count(*) FILTER (WHERE c.interest <> '0') AS answered, "
    "count(*) FILTER (WHERE c.interest = '0') AS missed, "
    + INTEREST_COUNTS + ", "
    "count(*) FILTER (WHERE c.call_type = 'first_call') AS first_calls, "
    "count(*) FILTER (WHERE c.call_type = 'followup_call') "
    "AS followup_calls, "
    "(count(*) FILTER (WHERE c.interest <> '0'))::float8 / count(*) "
    "AS answer_rate "
    "FROM sale_call c JOIN sale_prospect_trace t "
    "ON t.id = c.prospect_trace "
    "WHERE " + CALLS_WHERE + " "
    "GROUP BY c.operator, t.business_unit "
    "ORDER BY calls DESC, c.operator, id")
OPERATOR_COLUMNS = ['calls', 'answered', 'missed', 'interest_0',
    'interest_1', 'interest_2', 'interest_3', 'first_calls',
    'followup_calls', 'answer_rate']


def timeseries(period):
    "The calls of each operator per 'day', 'week' or 'month'"
    return (
        "SELECT min(c.id) AS id, c.operator, "
        "date_trunc('" + period + "', c.date)::date AS date, "
        "count(*) AS calls, "
        "count(*) FILTER (WHERE c.interest <> '0') AS answered, "
        "count(*) FILTER (WHERE c.interest = '3') AS high_interest "
        "FROM sale_call c "
        "WHERE " + CALLS_WHERE + " "
        "GROUP BY 2, 3 ORDER BY 3, 2, 1")


TIMESERIES_COLUMNS = ['date', 'calls', 'answered', 'high_interest']

INTEREST = (
    "WITH called AS ("
        "SELECT DISTINCT c.prospect_trace FROM sale_call c "
        "WHERE " + CALLS_WHERE + ") "
    "SELECT t.id, t.id AS trace, t.prospect, "
    "p.assigned_operator AS operator, t.business_unit, t.state, "
    "count(*) AS calls, "
    "(array_agg(c.interest ORDER BY c.date, c.id))[1] "
    "AS first_interest, "
    "(array_agg(c.interest ORDER BY c.date DESC, c.id DESC))[1] "
    "AS last_interest, "
    "max(c.interest) AS max_interest, "
    "min(c.date) AS first_call_date, max(c.date) AS last_call_date, "
    "string_agg(c.interest, ' → ' ORDER BY c.date, c.id) "
    "AS interest_path "
    "FROM called "
    "JOIN sale_call c ON c.prospect_trace = called.prospect_trace "
    "JOIN sale_prospect_trace t ON t.id = c.prospect_trace "
    "JOIN sale_prospect p ON p.id = t.prospect "
    "WHERE t.company IS NULL "
    "GROUP BY t.id, p.assigned_operator "
    "ORDER BY last_call_date DESC, t.id DESC")
INTEREST_COLUMNS = ['calls', 'first_interest', 'last_interest',
    'max_interest', 'first_call_date', 'last_call_date', 'interest_path']

# Parameters: the end of the period, now
PENDING = (
    "SELECT min(t.id) AS id, p.assigned_operator AS operator, "
    "count(*) AS open_traces, "
    "count(*) FILTER (WHERE NOT EXISTS ("
        "SELECT 1 FROM sale_call c WHERE c.prospect_trace = t.id)) "
    "AS never_called, "
    "count(t.next_call) AS scheduled, "
    "count(*) FILTER (WHERE t.next_call < %s) AS due, "
    "count(*) FILTER (WHERE t.next_call < %s) AS overdue "
    "FROM sale_prospect_trace t "
    "JOIN sale_prospect p ON p.id = t.prospect "
    "WHERE t.state = 'open' AND t.company IS NULL "
    "GROUP BY p.assigned_operator "
    "ORDER BY due DESC, operator NULLS FIRST, id")
PENDING_COLUMNS = ['open_traces', 'never_called', 'scheduled', 'due']

ASSIGNMENT = (
    "SELECT min(p.id) AS id, p.business_unit, "
    "p.assigned_operator AS operator, count(*) AS prospects, "
    "coalesce(sum(o.traces), 0)::int AS open_traces "
    "FROM sale_prospect p LEFT JOIN ("
        "SELECT prospect, count(*) AS traces FROM sale_prospect_trace "
        "WHERE state = 'open' GROUP BY prospect) o "
    "ON o.prospect = p.id "
    "WHERE p.active AND p.company IS NULL "
    "GROUP BY p.business_unit, p.assigned_operator "
    "ORDER BY p.business_unit NULLS FIRST, operator NULLS FIRST, id")
ASSIGNMENT_COLUMNS = ['prospects', 'open_traces']

HIGH_INTEREST = (
    "SELECT c.id, c.id AS call, c.date, t.prospect, t.id AS trace, "
    "c.operator, t.business_unit, c.contact_method, c.description, "
    "t.state AS trace_state, "
    "(SELECT l.interest FROM sale_call l "
        "WHERE l.prospect_trace = c.prospect_trace "
        "ORDER BY l.date DESC, l.id DESC LIMIT 1) AS current_interest, "
    "1 AS calls "
    "FROM sale_call c JOIN sale_prospect_trace t "
    "ON t.id = c.prospect_trace "
    "WHERE " + CALLS_WHERE + " AND c.interest = '3' "
    "ORDER BY c.date DESC, c.id DESC")
HIGH_INTEREST_COLUMNS = ['date', 'current_interest', 'calls', 'trace']

# The reports of a row per trace or per call, also read a page at a time
PAGED = {'sale.prospect_trace.report.interest',
    'sale.call.report.high_interest'}
PAGE = 1000  # rows, what the clients read at once

# The trace list: the fields of the traces given twice (%s), in one query
TRACE = (
    "SELECT t.id, s.call_count, s.last_call_date, s.current_interest "
    "FROM unnest(%s::int[]) AS t(id) LEFT JOIN ("
        "SELECT prospect_trace, count(*) AS call_count, "
        "max(date) AS last_call_date, "
        "(array_agg(interest ORDER BY date DESC, id DESC))[1] "
        "AS current_interest "
        "FROM sale_call WHERE prospect_trace = ANY(%s) "
        "GROUP BY prospect_trace) s ON s.prospect_trace = t.id")

# Next call when nothing is due: the operator's oldest open trace never
# called
NEVER_CALLED = (
    "SELECT t.id FROM sale_prospect_trace t "
    "JOIN sale_prospect p ON p.id = t.prospect "
    "WHERE p.assigned_operator = %s AND t.state = 'open' "
    "AND t.next_call IS NULL AND NOT EXISTS ("
        "SELECT 1 FROM sale_call c WHERE c.prospect_trace = t.id) "
    "ORDER BY t.id LIMIT 1")


def hand_queries(from_date, to_date, now):
    """Return the reports to measure: label, model, period, limit, the
    hand-written SQL computing the same rows, its parameters and the
    columns whose sums are compared"""
    end = dt.datetime.combine(to_date + dt.timedelta(days=1), dt.time())
    period = (from_date, to_date)
    queries = {
        'sale.call.report.operator': (OPERATOR, period, OPERATOR_COLUMNS),
        }
    for name in ['day', 'week', 'month']:
        queries['sale.call.report.operator.timeseries', name] = (
            timeseries(name), period, TIMESERIES_COLUMNS)
    queries.update({
            'sale.prospect_trace.report.interest': (
                INTEREST, period, INTEREST_COLUMNS),
            'sale.prospect_trace.report.pending': (
                PENDING, (end, now), PENDING_COLUMNS),
            'sale.prospect.report.assignment': (
                ASSIGNMENT, (), ASSIGNMENT_COLUMNS),
            'sale.call.report.high_interest': (
                HIGH_INTEREST, period, HIGH_INTEREST_COLUMNS),
            })
    return list(reports(queries))


def reports(queries):
    "Yield a report per query, and its first page when the clients page it"
    for key, (query, params, columns) in queries.items():
        model, period = key if isinstance(key, tuple) else (key, None)
        label = '%s (%s)' % key if period else model
        report = {
            'label': label, 'model': model, 'period': period,
            'limit': None, 'query': query, 'params': params,
            'columns': columns}
        yield report
        if model in PAGED:
            yield dict(report, label='%s (first %d)' % (model, PAGE),
                limit=PAGE, query=query + ' LIMIT %d' % PAGE)
