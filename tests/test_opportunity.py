# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"The module's checks again, with Tryton's sale opportunities activated"
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class SaleOpportunityBridgeTestCase(CompanyTestMixin, ModuleTestCase):
    "Test Sale Opportunity Management module with sale_opportunity"
    module = 'sale_opportunity_management'
    extras = ['sale_opportunity']

    @property
    def _skip_company_rule(self):
        # As in test_module: the module works without any company (S0)
        return super()._skip_company_rule | {
            ('sale.prospect', 'company'),
            ('sale.prospect_trace', 'company'),
            ('sale.call', 'company'),
            }


del ModuleTestCase
