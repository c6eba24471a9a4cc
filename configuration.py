# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools.timezone import UTC, get_tzinfo
from trytond.transaction import Transaction

from .common import RecordAccessMixin, module_id

WEEKDAYS = [
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ]


class Configuration(
        RecordAccessMixin, ModelSingleton, ModelSQL, ModelView):
    __name__ = 'sale.prospect.configuration'

    default_country = fields.Many2One(
        'country.country', "Default Country",
        help="The country of the phone numbers typed without "
        "international prefix.\n"
        "Leave empty to recognise only numbers with their prefix.")
    auto_assign_creator = fields.Boolean(
        "Assign to Creator",
        help="Assign the prospects created by an operator to this operator.")
    missed_call_retry = fields.TimeDelta(
        "Missed Call Retry",
        help="Schedule the next call this long after a missed call.\n"
        "Leave empty to schedule nothing.")
    max_missed_calls = fields.Integer(
        "Maximum Missed Calls",
        domain=['OR',
            ('max_missed_calls', '=', None),
            ('max_missed_calls', '>', 0),
            ],
        help="Stop retrying after this many consecutive missed calls.")
    dial_scheme = fields.Selection([
            ('tel', "Telephone (tel:)"),
            ('sip', "SIP (sip:)"),
            ], "Dial Scheme", required=True,
        help="How the links of phone numbers dial: "
        "with the telephony application of the computer (tel:) "
        "or with a SIP softphone (sip:).")
    call_start = fields.Time(
        "Calling Hours Start", required=True,
        help="The time from which prospects are called.")
    call_end = fields.Time(
        "Calling Hours End", required=True,
        domain=[
            ('call_end', '>', Eval('call_start')),
            ],
        help="The time from which prospects are no longer called.")
    call_days = fields.MultiSelection(
        WEEKDAYS, "Calling Days", sort=False,
        help="The days of the week on which prospects are called.\n"
        "Leave empty to call every day.")
    recycle_lost_after = fields.TimeDelta(
        "Recycle Lost After",
        help="Put the lost prospects back to lead, unassigned, this long "
        "after they were lost.\n"
        "Leave empty to keep them lost.")

    @classmethod
    def default_auto_assign_creator(cls):
        return False

    @classmethod
    def default_max_missed_calls(cls):
        return 3

    @classmethod
    def default_dial_scheme(cls):
        return 'tel'

    @classmethod
    def default_call_start(cls):
        return dt.time(8, 0)

    @classmethod
    def default_call_end(cls):
        return dt.time(18, 0)

    @classmethod
    def default_call_days(cls):
        return ('0', '1', '2', '3', '4')

    @classmethod
    def read(cls, ids, fields_names):
        # ModelSingleton answers a record even for no id when none is saved
        if not ids:
            return []
        return super().read(ids, fields_names)

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        if mode == 'create' or 'auto_assign_creator' in field_names:
            cls.show_register_menu(records[0].auto_assign_creator)

    @classmethod
    def show_register_menu(cls, to_operators):
        """Show or hide the "Register Prospect" entry to the operators, who
        may register prospects only when they get them assigned"""
        Menu = Pool().get('ir.ui.menu')
        menu = Menu(module_id('menu_prospect_register'))
        operator = module_id('group_prospect_operator')
        shown = operator in {g.id for g in menu.groups}
        if shown != bool(to_operators):
            with Transaction().set_user(0):
                Menu.write([menu], {'groups': [
                            ('add' if to_operators else 'remove',
                                [operator])]})

    # Calling hours: the datetimes are naive UTC, as Tryton stores them; the
    # hours and days are those of the company's timezone, UTC without one

    @classmethod
    def calling_timezone(cls, company=None):
        "Return the timezone of the calling hours for the company"
        pool = Pool()
        Company = pool.get('company.company')
        if company is None:
            company_id = Transaction().context.get('company')
            company = Company(company_id) if company_id else None
        if company and company.timezone:
            return get_tzinfo(company.timezone)
        return UTC

    def _calling_bounds(self):
        "Return the start and end times and the calling weekdays"
        start = self.call_start or self.default_call_start()
        end = self.call_end or self.default_call_end()
        days = {int(d) for d in (self.call_days or [])} or set(range(7))
        return start, end, days

    def in_calling_hours(self, when, company=None):
        "Tell whether the naive UTC datetime is within the calling hours"
        start, end, days = self._calling_bounds()
        local = self.local_datetime(when, company)
        return (local.weekday() in days
            and start <= local.time() < end)

    def next_calling_slot(self, when, company=None):
        """Return the naive UTC datetime itself when it is within the
        calling hours, else the start of the next slot: the same day at
        the start time when it is before it on a calling day, else the
        next calling day at the start time"""
        start, end, days = self._calling_bounds()
        if self.in_calling_hours(when, company):
            return when
        local = self.local_datetime(when, company)
        day = local.date()
        if not (day.weekday() in days and local.time() < start):
            day += dt.timedelta(days=1)
            while day.weekday() not in days:
                day += dt.timedelta(days=1)
        slot = dt.datetime.combine(day, start, tzinfo=local.tzinfo)
        return self._utc(slot)

    def preset_next_call(self, preset, now, company=None):
        """Return the naive UTC datetime of the preset next call after now,
        on the next calling slot:
        - in_two_hours: two hours later;
        - tomorrow_morning: tomorrow at the start of the calling hours;
        - tomorrow_afternoon: tomorrow at 14:00, or at the start of the
          calling hours when they start later;
        - next_week: seven days later at the same time"""
        start, end, days = self._calling_bounds()
        local = self.local_datetime(now, company)
        tomorrow = local.date() + dt.timedelta(days=1)
        if preset == 'in_two_hours':
            when = local + dt.timedelta(hours=2)
        elif preset == 'tomorrow_morning':
            when = dt.datetime.combine(tomorrow, start, tzinfo=local.tzinfo)
        elif preset == 'tomorrow_afternoon':
            when = dt.datetime.combine(
                tomorrow, max(start, dt.time(14, 0)), tzinfo=local.tzinfo)
        elif preset == 'next_week':
            when = local + dt.timedelta(days=7)
        else:
            raise ValueError(preset)
        return self.next_calling_slot(
            self._utc(when).replace(second=0, microsecond=0), company)

    def local_datetime(self, when, company=None):
        "Return the naive UTC datetime in the timezone of the company"
        return when.replace(tzinfo=UTC).astimezone(
            self.calling_timezone(company))

    @classmethod
    def _utc(cls, when):
        "Return the aware datetime as a naive UTC datetime"
        return when.astimezone(UTC).replace(tzinfo=None)
