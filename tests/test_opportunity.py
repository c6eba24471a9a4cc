# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"The module's checks again, with Tryton's sale opportunities activated"
from trytond.modules.company.tests import create_company
from trytond.modules.sale_opportunity_management.exceptions import (
    LifecycleError)
from trytond.modules.sale_opportunity_management.tests.common import (
    CompanyTestMixin)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


class SaleOpportunityBridgeTestCase(CompanyTestMixin, ModuleTestCase):
    "Test Sale Opportunity Management module with sale_opportunity"
    module = 'sale_opportunity_management'
    extras = ['sale_opportunity']

    @with_transaction()
    def test_opportunity_company_of_the_user(self):
        "The company of the context counts only when it is the user's"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        User = pool.get('res.user')
        company = create_company()
        other = create_company(name="Other Company")
        operator = User(name="Operator", login='operator',
            companies=[company], company=company)
        operator.save()
        prospect, = Prospect.create([{'name': "Optica Alfa"}])

        with Transaction().set_user(operator.id), \
                Transaction().set_context(company=company.id):
            self.assertEqual(
                Prospect(prospect.id)._opportunity_company(), company)
        with Transaction().set_user(operator.id), \
                Transaction().set_context(company=other.id):
            with self.assertRaises(LifecycleError):
                Prospect(prospect.id)._opportunity_company()
        with Transaction().set_user(0), \
                Transaction().set_context(company=other.id):
            # the root user (tools, cron) works for any company
            self.assertEqual(
                Prospect(prospect.id)._opportunity_company(), other)


del ModuleTestCase
