# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"Helpers shared by the models of the module"
from trytond.pool import Pool
from trytond.transaction import Transaction, check_access

INTERESTS = [
    (None, ""),
    ('0', "No answer"),
    ('1', "Not interested"),
    ('2', "Medium interest: send more information"),
    ('3', "High interest: generate a sale"),
    ]


def check_record_rules(Model, records):
    """Raise the error of the record rules when the user may not read the
    records, before any message names them"""
    with check_access():
        Model.read([r.id for r in records], ['id'])


def is_prospect_admin():
    "Tell whether the current user administers prospects"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    if not Transaction().user:
        return True
    group_id = ModelData.get_id(
        'sale_opportunity_management', 'group_prospect_admin')
    return group_id in User.get_groups()
