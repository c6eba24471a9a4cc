# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from .common import RecordAccessMixin, module_id


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

    @classmethod
    def default_auto_assign_creator(cls):
        return False

    @classmethod
    def default_max_missed_calls(cls):
        return 3

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
