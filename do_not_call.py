# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.model import fields
from trytond.pool import PoolMeta


class Prospect(metaclass=PoolMeta):
    __name__ = 'sale.prospect'

    do_not_call = fields.Boolean(
        "Do Not Call", readonly=True,
        help="The prospect asked not to be called.")
    do_not_call_date = fields.DateTime(
        "Do Not Call Since", readonly=True)

    @classmethod
    def default_do_not_call(cls):
        return False
