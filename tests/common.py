# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"What the module's tests share, as trytond.tests.test_tryton does for all"
from sql import Column

from trytond.modules.company.tests import (
    CompanyTestMixin as _CompanyTestMixin)
from trytond.pool import Pool
from trytond.tests.test_tryton import TestCase, activate_module, drop_db
from trytond.transaction import Transaction

MODULE = 'sale_opportunity_management'


class CompanyTestMixin(_CompanyTestMixin):
    "The company checks of a module that works without any company (S0)"

    @property
    def _skip_company_rule(self):
        # The global rules also show the records without company, so their
        # domain differs from the one the mixin looks for
        return super()._skip_company_rule | {
            ('sale.prospect', 'company'),
            ('sale.prospect_trace', 'company'),
            ('sale.call', 'company'),
            ('sale.prospect.import', 'company'),
            }


class ModuleDBTestCase(TestCase):
    """Tests on a database with the module activated, dropped with its
    connections at the end (the scenarios that follow restore theirs)"""
    module = MODULE

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(cls.module)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


def create_user(login, group, name=None):
    "Create a user in the group of the module named by its XML id"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'login': login,
                'name': name or login,
                'groups': [('add', [ModelData.get_id(MODULE, group)])],
                }])
    return user


def set_default_country(code='CO', name="Colombia"):
    "Create the country and make it the default one of the configuration"
    pool = Pool()
    Country = pool.get('country.country')
    Configuration = pool.get('sale.prospect.configuration')
    country, = Country.create([{'name': name, 'code': code}])
    Configuration.create([{'default_country': country.id}])
    return country


def stored_counts(name):
    """Return the counts kept by the model name per key, the rows of a key
    added up, and its rows as (key, counts)"""
    Model = Pool().get(name)
    table = Model.__table__()
    key_size = len(Model._count_key)
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(*(Column(table, c)
                for c in Model._count_key + Model._count_names)))
    rows = [(tuple(r[:key_size]), dict(zip(Model._count_names, r[key_size:])))
        for r in cursor]
    stored = {}
    for key, counts in rows:
        total = stored.setdefault(key, dict.fromkeys(Model._count_names, 0))
        for count_name, count in counts.items():
            total[count_name] += count
    return stored, rows
