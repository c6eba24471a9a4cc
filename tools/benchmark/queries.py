# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The hand-written SQL that tools/bench measures the screens against: for
each report (the funnel too) the same rows as its table_query; for the
lists of traces, prospects and calls, Next call and the trace form the
rows they show."""
import datetime as dt

# The administrator has no company: only the calls without company
CALLS_WHERE = ('c.date >= %s AND c.date <= %s '
    'AND (c.company IS NULL)')

# The reports of calls read the counts of calls per day (sale.call.daily)
DAYS_WHERE = ('d.date >= %s AND d.date <= %s '
    'AND (d.company IS NULL)')
OPERATOR = (
    "SELECT min(d.id) AS id, d.operator, d.business_unit, "
    "sum(d.calls) AS calls, "
    "sum(d.calls) - sum(d.interest_0) AS answered, "
    "sum(d.interest_0) AS missed, "
    + ', '.join('sum(d.interest_%s) AS interest_%s' % (i, i) for i in '0123')
    + ", sum(d.first_calls) AS first_calls, "
    "sum(d.followup_calls) AS followup_calls, "
    "(sum(d.calls) - sum(d.interest_0))::float8 / sum(d.calls) "
    "AS answer_rate "
    "FROM sale_call_daily d "
    "WHERE " + DAYS_WHERE + " "
    "GROUP BY d.operator, d.business_unit "
    "ORDER BY calls DESC, d.operator, id")
OPERATOR_COLUMNS = ['calls', 'answered', 'missed', 'interest_0',
    'interest_1', 'interest_2', 'interest_3', 'first_calls',
    'followup_calls', 'answer_rate']


def timeseries(period):
    "The calls of each operator per 'day', 'week' or 'month'"
    return (
        "SELECT min(d.id) AS id, d.operator, "
        "date_trunc('" + period + "', d.date)::date AS date, "
        "sum(d.calls) AS calls, "
        "sum(d.calls) - sum(d.interest_0) AS answered, "
        "sum(d.interest_3) AS high_interest "
        "FROM sale_call_daily d "
        "WHERE " + DAYS_WHERE + " "
        "GROUP BY 2, 3 ORDER BY 3, 2, 1")


TIMESERIES_COLUMNS = ['date', 'calls', 'answered', 'high_interest']

# The traces called in the period: those whose last call (kept on the
# trace) is in it, as it ends today.  A page of them ({limit}: its size)
# with their columns takes the period twice as parameters, their count once
TRACES_CALLED = (
    "SELECT t.id, t.last_call_date_cache AS last_call_date "
    "FROM sale_prospect_trace t "
    "WHERE t.last_call_date_cache >= %s "
    "AND t.last_call_date_cache <= %s AND t.company IS NULL")
# The rows of a page of traces (the CTE page: their ids and last call
# dates): each trace's calls of the period through the (trace, date)
# index
INTEREST_ROWS = (
    "SELECT t.id, t.id AS trace, t.prospect, t.operator, "
    "t.business_unit, t.state, s.* "
    "FROM page JOIN sale_prospect_trace t ON t.id = page.id "
    "CROSS JOIN LATERAL ("
        "SELECT count(*) AS calls, "
        "(array_agg(c.interest ORDER BY c.date, c.id))[1] "
        "AS first_interest, "
        "(array_agg(c.interest ORDER BY c.date DESC, c.id DESC))[1] "
        "AS last_interest, "
        "max(c.interest) AS max_interest, "
        "min(c.date) AS first_call_date, max(c.date) AS last_call_date, "
        "string_agg(c.interest, ' → ' ORDER BY c.date, c.id) "
        "AS interest_path "
        "FROM sale_call c WHERE c.prospect_trace = t.id "
        "AND " + CALLS_WHERE + ") AS s "
    "ORDER BY page.last_call_date DESC, t.id DESC")
INTEREST = (
    "WITH page AS (" + TRACES_CALLED + " "
        "ORDER BY last_call_date DESC, id DESC LIMIT {limit}) "
    + INTEREST_ROWS)
INTEREST_COUNT = (
    "SELECT count(*) FROM (" + TRACES_CALLED + " LIMIT {limit}) AS q")
# A period ended before today: the last call of each trace in it, the one
# the calls say is followed by none in the period (they keep the date of
# the following call of their trace), latest first
LAST_CALLS = (
    "SELECT c.prospect_trace AS id, c.date AS last_call_date "
    "FROM sale_call c WHERE " + CALLS_WHERE + " "
    "AND (c.following_date_cache IS NULL OR c.following_date_cache > %s)")
INTEREST_ENDED = (
    "WITH page AS (" + LAST_CALLS + " "
        "ORDER BY last_call_date DESC, id DESC LIMIT {limit}) "
    + INTEREST_ROWS)
INTEREST_ENDED_COUNT = (
    "SELECT count(*) FROM (" + LAST_CALLS + " LIMIT {limit}) AS q")
INTEREST_COLUMNS = ['calls', 'first_interest', 'last_interest',
    'max_interest', 'first_call_date', 'last_call_date', 'interest_path']

# The open traces of the prospects that may be called; due: planned before
# the end of the period, or never called nor planned (Next call proposes
# them now).  Parameters: the end of the period, now
PENDING = (
    "SELECT min(t.id) AS id, t.operator, "
    "count(*) AS open_traces, "
    "count(*) FILTER (WHERE NOT called) AS never_called, "
    "count(t.next_call) AS scheduled, "
    "count(*) FILTER (WHERE t.next_call < %s "
        "OR (t.next_call IS NULL AND NOT called)) AS due, "
    "count(*) FILTER (WHERE t.next_call < %s) AS overdue "
    "FROM sale_prospect_trace t "
    "CROSS JOIN LATERAL (SELECT t.call_count_cache <> 0 AS called) AS k "
    "WHERE t.state = 'open' AND t.company IS NULL "
    "AND t.prospect NOT IN ("
        "SELECT id FROM sale_prospect WHERE do_not_call) "
    "GROUP BY t.operator "
    "ORDER BY due DESC, operator NULLS FIRST, id")
PENDING_COLUMNS = ['open_traces', 'never_called', 'scheduled', 'due']

# The reports of prospects read the prospects counted per day of creation
# (sale.prospect.daily)
ASSIGNMENT = (
    "SELECT min(d.id) AS id, d.business_unit, d.operator, "
    "sum(d.prospects) AS prospects, sum(d.open_traces) AS open_traces "
    "FROM sale_prospect_daily d WHERE d.company IS NULL "
    "GROUP BY d.business_unit, d.operator "
    "ORDER BY d.business_unit NULLS FIRST, d.operator NULLS FIRST, id")
ASSIGNMENT_COLUMNS = ['prospects', 'open_traces']

# The prospects created in the period (parameters: its first day, the day
# after its last), per business unit and operator, in their current stage
FUNNEL = (
    "SELECT min(d.id) AS id, d.business_unit, d.operator, "
    "sum(d.prospects) AS prospects, sum(d.leads) AS leads, "
    "sum(d.qualified) AS qualified, sum(d.agreements) AS agreements, "
    "sum(d.customers) AS customers, sum(d.lost) AS lost, "
    "sum(d.customers)::float8 / sum(d.prospects) AS conversion, "
    "(sum(d.days_to_customer)::numeric "
    "/ nullif(sum(d.dated_customers), 0))::float8 "
    "AS average_days_to_customer "
    "FROM sale_prospect_daily d "
    "WHERE d.company IS NULL AND d.date >= %s AND d.date < %s "
    "GROUP BY d.business_unit, d.operator "
    "ORDER BY d.business_unit NULLS FIRST, d.operator NULLS FIRST, id")
FUNNEL_COLUMNS = ['prospects', 'leads', 'qualified', 'agreements',
    'customers', 'lost', 'conversion', 'average_days_to_customer']

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

# The list of the traces: the page of ids in the list's order (%s: the
# operator clause), then the fields of the rows read
TRACE_PAGE = (
    "SELECT t.id FROM sale_prospect_trace t "
    "WHERE t.state = 'open' AND t.company IS NULL %s"
    "ORDER BY t.next_call ASC NULLS FIRST, t.id DESC")
# Parameter: the ids (in order)
TRACE_ROWS = (
    "SELECT t.id, p.name AS prospect, p.city AS prospect_city, "
    "u.name AS business_unit, o.name AS operator, t.next_call, t.state, "
    "t.call_count_cache AS call_count, "
    "t.last_call_date_cache AS last_call_date, "
    "(SELECT l.interest FROM sale_call l WHERE l.prospect_trace = t.id "
        "ORDER BY l.date DESC, l.id DESC LIMIT 1) AS current_interest "
    "FROM unnest(%s::int[]) WITH ORDINALITY AS page(id, n) "
    "JOIN sale_prospect_trace t ON t.id = page.id "
    "JOIN sale_prospect p ON p.id = t.prospect "
    "LEFT JOIN sale_business_unit u ON u.id = t.business_unit "
    "LEFT JOIN res_user o ON o.id = t.operator "
    "ORDER BY page.n")
TRACE_COLUMNS = ['call_count', 'last_call_date', 'current_interest']

# Next call: the operator's earliest call due (parameters: the operator,
# now), else their oldest open trace never called (the operator)
NEXT_DUE = (
    "SELECT t.id FROM sale_prospect_trace t "
    "WHERE t.operator = %s AND t.state = 'open' "
    "AND t.next_call <= %s ORDER BY t.next_call, t.id LIMIT 1")
NEVER_CALLED = (
    "SELECT t.id FROM sale_prospect_trace t "
    "WHERE t.operator = %s AND t.state = 'open' "
    "AND t.next_call IS NULL AND t.call_count_cache = 0 "
    "ORDER BY t.id LIMIT 1")
# The form of a trace, with the calls its list shows (parameter: the trace)
TRACE_FORM = TRACE_ROWS.replace(
    "unnest(%s::int[]) WITH ORDINALITY AS page(id, n)",
    "(SELECT %s::int AS id, 1 AS n) AS page")
TRACE_CALLS = (
    "SELECT c.id, c.date, c.call_type, c.interest, c.description, "
    "o.name AS operator, c.duration FROM sale_call c "
    "LEFT JOIN res_user o ON o.id = c.operator "
    "WHERE c.prospect_trace = %s ORDER BY c.date DESC, c.id DESC LIMIT 20")

# The list of the prospects (its All tab): the page of active prospects
# in the list's order, by name ({clause}: the operator's rule, or a search)
PROSPECT_PAGE = (
    "SELECT p.id FROM sale_prospect p "
    "WHERE p.active AND p.company IS NULL {clause}"
    "ORDER BY p.name, p.id")
# A word typed in the search box, as the prospect's rec_name searches it:
# in its name or in the value of one of its contact methods (parameters:
# '%word%' twice)
PROSPECT_WORD = (
    "AND p.id IN (SELECT id FROM sale_prospect WHERE name ILIKE %s "
        "UNION SELECT prospect FROM prospect_contact_method "
        "WHERE active AND value ILIKE %s) ")
# The fields of the rows read (parameter: the ids, in order): the phone is
# the first active phone-like contact method, the next call the earliest of
# the open traces, the current interest that of the latest call of any of
# its traces
PROSPECT_ROWS = (
    "SELECT p.id, p.name, p.city, ph.value AS phone, "
    "(SELECT min(t.next_call) FROM sale_prospect_trace t "
        "WHERE t.prospect = p.id AND t.state = 'open') AS next_call, "
    "(SELECT c.interest FROM sale_prospect_trace t "
        "JOIN sale_call c ON c.prospect_trace = t.id "
        "WHERE t.prospect = p.id "
        "ORDER BY c.date DESC, c.id DESC LIMIT 1) AS current_interest, "
    "p.stage, p.assigned_operator, o.name AS operator_name, "
    "p.business_unit, u.name AS business_unit_name, p.state, p.party, "
    "p.company "
    "FROM unnest(%s::int[]) WITH ORDINALITY AS page(id, n) "
    "JOIN sale_prospect p ON p.id = page.id "
    "LEFT JOIN res_user o ON o.id = p.assigned_operator "
    "LEFT JOIN sale_business_unit u ON u.id = p.business_unit "
    "LEFT JOIN LATERAL ("
        "SELECT m.value FROM prospect_contact_method m "
        "WHERE m.prospect = p.id AND m.active "
        "AND m.contact_type IN ('mobile', 'phone', 'whatsapp') "
        "ORDER BY m.sequence IS NOT NULL, m.sequence, m.id LIMIT 1"
        ") AS ph ON true "
    "ORDER BY page.n")
PROSPECT_COLUMNS = ['name', 'city', 'phone', 'next_call',
    'current_interest', 'stage', 'assigned_operator', 'business_unit',
    'state']

# The list of the calls (its Today tab), latest first (parameter: the day;
# {clause}: the operator's rule)
CALL_PAGE = (
    "SELECT c.id FROM sale_call c "
    "WHERE c.date = %s AND c.company IS NULL {clause}"
    "ORDER BY c.date DESC, c.id DESC")
# The calls on the traces of the operator (parameter: the operator)
CALL_OPERATOR = (
    "AND c.prospect_trace IN ("
        "SELECT t.id FROM sale_prospect_trace t WHERE t.operator = %s) ")
# Parameter: the ids (in order)
CALL_ROWS = (
    "SELECT c.id, c.date, t.prospect, p.name AS prospect_name, "
    "t.business_unit, u.name AS business_unit_name, c.operator, "
    "o.name AS operator_name, c.call_type, c.interest, "
    "CASE WHEN c.interest = '0' THEN 'missed_call' "
        "ELSE 'answered_call' END AS call_result, "
    "c.description, c.contact_method, m.value AS contact_method_value, "
    "c.duration, c.company "
    "FROM unnest(%s::int[]) WITH ORDINALITY AS page(id, n) "
    "JOIN sale_call c ON c.id = page.id "
    "JOIN sale_prospect_trace t ON t.id = c.prospect_trace "
    "JOIN sale_prospect p ON p.id = t.prospect "
    "LEFT JOIN sale_business_unit u ON u.id = t.business_unit "
    "LEFT JOIN res_user o ON o.id = c.operator "
    "LEFT JOIN prospect_contact_method m ON m.id = c.contact_method "
    "ORDER BY page.n")
CALL_COLUMNS = ['date', 'prospect', 'business_unit', 'operator',
    'call_type', 'interest', 'call_result', 'description',
    'contact_method']

# The prospects lost in the period (parameters: its first and last days),
# per reason and business unit
LOST_REASON = (
    "SELECT min(p.id) AS id, p.lost_reason AS reason, p.business_unit, "
    "count(*) AS prospects "
    "FROM sale_prospect p "
    "WHERE p.active AND p.company IS NULL AND p.stage = 'lost' "
    "AND p.lost_date >= %s AND p.lost_date <= %s "
    "GROUP BY p.lost_reason, p.business_unit "
    "ORDER BY prospects DESC, reason NULLS LAST, "
    "business_unit NULLS FIRST, id")
LOST_REASON_COLUMNS = ['reason', 'business_unit', 'prospects']

# Each target of an operator beside the calls of the period counted per
# day and the agreements signed in it by the operator's prospects, in the
# target's business unit if it has one (parameters: the period twice)
TARGET = (
    "SELECT t.id, t.operator, t.business_unit, "
    "t.calls_per_day, t.answered_per_day, t.agreements_per_month, "
    "d.calls, d.answered, a.agreements "
    "FROM sale_call_target t "
    "CROSS JOIN LATERAL ("
        "SELECT coalesce(sum(d.calls), 0) AS calls, "
        "coalesce(sum(d.calls) - sum(d.interest_0), 0) AS answered "
        "FROM sale_call_daily d WHERE " + DAYS_WHERE + " "
        "AND d.operator = t.operator AND (t.business_unit IS NULL "
            "OR d.business_unit = t.business_unit)) AS d "
    "CROSS JOIN LATERAL ("
        "SELECT count(*) AS agreements FROM sale_prospect p "
        "WHERE p.assigned_operator = t.operator AND p.active "
        "AND p.agreement_date IS NOT NULL AND p.company IS NULL "
        "AND (t.business_unit IS NULL "
            "OR p.business_unit = t.business_unit) "
        "AND p.agreement_date >= %s AND p.agreement_date <= %s) AS a "
    "ORDER BY t.operator, t.business_unit NULLS FIRST, t.id")
TARGET_COLUMNS = ['operator', 'business_unit', 'calls', 'answered',
    'agreements']

# The report actions: label, action, period, hand-written SQL of a page
# and of the count of the rows, its parameters (from, to: the period; end:
# the day after to; now; or a dict of those of the page and of the count)
# and the columns whose sums are compared
PERIOD = ('from', 'to')


def paged(query):
    "The page and the count of a query of all the rows"
    return (lambda limit: page(query, limit),
        lambda limit: counting(query, limit))


REPORTS = [
    ('calls per operator', 'act_call_report_operator', None,
        *paged(OPERATOR), PERIOD, OPERATOR_COLUMNS),
    *(('calls over time (%s)' % p, 'act_call_report_operator_timeseries', p,
            *paged(timeseries(p)), PERIOD, TIMESERIES_COLUMNS)
        for p in ['day', 'week', 'month']),
    ('interest by trace', 'act_prospect_trace_report_interest', None,
        lambda limit: INTEREST.format(limit=limit),
        lambda limit: INTEREST_COUNT.format(limit=limit),
        {'page': PERIOD * 2, 'count': PERIOD}, INTEREST_COLUMNS),
    ('pending calls', 'act_prospect_trace_report_pending', None,
        *paged(PENDING), ('end', 'now'), PENDING_COLUMNS),
    ('prospects per operator', 'act_prospect_report_assignment', None,
        *paged(ASSIGNMENT), (), ASSIGNMENT_COLUMNS),
    ('potential customers', 'act_call_report_high_interest', None,
        *paged(HIGH_INTEREST), PERIOD, HIGH_INTEREST_COLUMNS),
    ('targets per operator', 'act_call_report_target', None,
        *paged(TARGET), PERIOD * 2, TARGET_COLUMNS),
    ]
# The funnel over the whole history: the prospects are all created in the
# month before the first calls (fill.py), none in the reports' period
FUNNEL_REPORT = ('funnel (all prospects)', 'act_prospect_report_funnel',
    None, *paged(FUNNEL), ('from', 'end'), FUNNEL_COLUMNS)
# The lost reasons over the whole history too: the prospects are lost up to
# a year after their creation, none in the reports' period
INTEREST_ENDED_REPORT = ('interest by trace (last month)',
    'act_prospect_trace_report_interest', None,
    lambda limit: INTEREST_ENDED.format(limit=limit),
    lambda limit: INTEREST_ENDED_COUNT.format(limit=limit),
    {'page': (*PERIOD, 'to', *PERIOD), 'count': (*PERIOD, 'to')},
    INTEREST_COLUMNS)
LOST_REASON_REPORT = ('lost reasons (all prospects)',
    'act_prospect_report_lost_reason', None, *paged(LOST_REASON), PERIOD,
    LOST_REASON_COLUMNS)


def page(query, limit):
    "The query of the first page of rows"
    return '%s LIMIT %d' % (query, limit)


def counting(query, limit):
    """The count of the rows as search_count counts them: up to limit, in
    no order"""
    body = query.rsplit(' ORDER BY ', 1)[0]
    return 'SELECT count(*) FROM (%s LIMIT %d) AS q' % (body, limit)


def parameters(names, from_date, to_date, now):
    values = {'from': from_date, 'to': to_date, 'now': now,
        'end': dt.datetime.combine(
            to_date + dt.timedelta(days=1), dt.time())}
    return tuple(values[n] for n in names)
