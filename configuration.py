# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields


class Configuration(ModelSingleton, ModelSQL, ModelView):
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

    @classmethod
    def default_auto_assign_creator(cls):
        return False

    @classmethod
    def default_max_missed_calls(cls):
        return 3
