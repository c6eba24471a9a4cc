# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class SaleOpportunityManagementTestCase(CompanyTestMixin, ModuleTestCase):
    "Test Sale Opportunity Management module"
    module = 'sale_opportunity_management'

    @property
    def _skip_company_rule(self):
        # The module works without any company (S0): the global rules also
        # show the records without company, so their domain differs from the
        # one the mixin looks for.
        return super()._skip_company_rule | {
            ('sale.prospect', 'company'),
            ('sale.prospect_trace', 'company'),
            ('sale.call', 'company'),
            }


del ModuleTestCase
