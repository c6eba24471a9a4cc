# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""The bridge to Tryton's sale opportunities, registered only when the
sale_opportunity module is activated"""
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import LifecycleError

OPEN_STATES = ['lead', 'opportunity']
NOTED_CALLS = 3


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    prospect = fields.Many2One(
        'sale.prospect', "Prospect", readonly=True, ondelete='RESTRICT',
        help="The prospect of the call center the opportunity comes from.")

    @classmethod
    def copy(cls, opportunities, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('prospect', None)
        return super().copy(opportunities, default=default)


class Prospect(metaclass=PoolMeta):
    __name__ = 'sale.prospect'

    opportunities = fields.One2Many(
        'sale.opportunity', 'prospect', "Opportunities", readonly=True,
        help="The sale opportunities created from the prospect.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._client_readonly = cls._client_readonly | {'opportunities'}
        cls._buttons.update({
                'create_opportunity': {
                    'invisible': ~Eval('stage').in_(
                        ['qualified', 'agreement']),
                    'depends': ['stage'],
                    },
                })

    @classmethod
    def copy(cls, prospects, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('opportunities', None)
        return super().copy(prospects, default=default)

    @classmethod
    @ModelView.button
    def create_opportunity(cls, prospects):
        """Create a sale opportunity for each prospect that has no open one,
        with its party, created when missing"""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        for prospect in prospects:
            if prospect.stage not in {'qualified', 'agreement'}:
                raise LifecycleError(gettext(
                        'sale_opportunity_management'
                        '.msg_prospect_opportunity_stage',
                        prospect=prospect.rec_name))
        # One click at a time per prospect: never a second open opportunity
        cls.lock(prospects)
        with without_check_access():
            opened = {o.prospect for o in Opportunity.search([
                        ('prospect', 'in', [p.id for p in prospects]),
                        ('state', 'in', OPEN_STATES),
                        ])}
        prospects = [p for p in prospects if p not in opened]
        for prospect in prospects:
            prospect._opportunity_company()
        cls.create_party(prospects)
        opportunities = [p._opportunity() for p in prospects]
        # The sale opportunities are not the operators' to create: the
        # button creates them for the prospects they may change
        with without_check_access():
            Opportunity.save(opportunities)

    def _opportunity_company(self):
        """Return the company of the opportunity of the prospect: its own,
        else the user's current company (that of the context when it is one
        of the user's: a client may send any)"""
        pool = Pool()
        Company = pool.get('company.company')
        User = pool.get('res.user')
        transaction = Transaction()
        company = self.company
        company_id = transaction.context.get('company')
        if not company and company_id is not None:
            if transaction.user == 0 or company_id in {
                    c.id for c in User(transaction.user).companies}:
                company = Company(company_id)
        if not company:
            raise LifecycleError(gettext(
                    'sale_opportunity_management'
                    '.msg_prospect_opportunity_company',
                    prospect=self.rec_name))
        return company

    def _opportunity(self):
        "Return a new sale opportunity for the prospect and its party"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Date = pool.get('ir.date')
        company = self._opportunity_company()
        opportunity = Opportunity(
            company=company, currency=company.currency, party=self.party,
            prospect=self, start_date=Date.today(),
            description=self._opportunity_description())
        opportunity.on_change_party()
        opportunity.address = self.party.address_get()
        opportunity.comment = self._opportunity_comment()
        return opportunity

    def _opportunity_description(self):
        if self.business_unit:
            return '%s (%s)' % (self.name, self.business_unit.rec_name)
        return self.name

    def _opportunity_comment(self):
        "Return the notes of the last calls, newest first, and the comment"
        pool = Pool()
        Call = pool.get('sale.call')
        calls = Call.search([
                ('prospect', '=', self.id),
                ('description', '!=', None),
                ('description', '!=', ''),
                ], order=[('date', 'DESC'), ('id', 'DESC')],
            limit=NOTED_CALLS)
        lines = ['%s: %s' % (c.date.isoformat(), c.description.strip())
            for c in calls]
        if self.comment:
            lines.append(self.comment.strip())
        return '\n'.join(lines) or None
