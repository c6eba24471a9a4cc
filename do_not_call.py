# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
from collections import defaultdict

from sql import Literal

from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import without_check_access

from .exceptions import DoNotCallWarning


class Prospect(metaclass=PoolMeta):
    "Prospects who asked not to be called: never proposed again"
    __name__ = 'sale.prospect'

    do_not_call = fields.Boolean(
        "Do Not Call", readonly=True,
        help="The prospect asked not to be called.")
    do_not_call_date = fields.DateTime(
        "Do Not Call Since", readonly=True)

    @classmethod
    def default_do_not_call(cls):
        return False

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            # The few who asked not to be called, looked up at each
            # registration (check_do_not_call_contacts)
            Index(t, (t.id, Index.Range()),
                where=t.do_not_call == Literal(True)))
        cls._client_readonly = cls._client_readonly | {
            'do_not_call', 'do_not_call_date'}
        cls._buttons.update({
                'mark_do_not_call': {
                    'invisible': Eval('do_not_call', False),
                    'depends': ['do_not_call'],
                    },
                'clear_do_not_call': {
                    'invisible': ~Eval('do_not_call', False),
                    'depends': ['do_not_call'],
                    },
                })

    @classmethod
    @ModelView.button
    def mark_do_not_call(cls, prospects):
        """Record that the prospects asked not to be called: close their
        open traces, which clears their next calls"""
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        prospects = [p for p in prospects if not p.do_not_call]
        if not prospects:
            return
        cls.write(prospects, {
                'do_not_call': True,
                'do_not_call_date': dt.datetime.now().replace(microsecond=0),
                })
        with without_check_access():
            traces = Trace.search([
                    ('prospect', 'in', [p.id for p in prospects]),
                    ('state', '=', 'open'),
                    ])
            if traces:
                Trace.close(traces)

    @classmethod
    @ModelView.button
    def clear_do_not_call(cls, prospects):
        "Let the prospects be called again; their traces stay closed"
        cls.write(prospects, {
                'do_not_call': False,
                'do_not_call_date': None,
                })

    @classmethod
    def on_modification(cls, mode, prospects, field_names=None):
        if mode == 'create':
            # Before the duplicates: the prospect asked not to be called
            cls.check_do_not_call_contacts(prospects)
        super().on_modification(mode, prospects, field_names=field_names)

    @classmethod
    def check_do_not_call_contacts(cls, prospects):
        """Warn when the prospects share a contact value with a prospect
        who asked not to be called, whatever the record rules"""
        pool = Pool()
        Warning = pool.get('res.user.warning')
        shared = cls._do_not_call_contacts(
            [p.id for p in prospects if not p.do_not_call])
        for prospect in prospects:
            values = shared.get(prospect.id)
            if not values:
                continue
            others = sorted(set(values.values()), key=lambda p: p.id)
            # Keyed on the values and the prospects warned about, as the
            # duplicates: a new record's id changes at each retry
            key = Warning.format(
                'prospect_do_not_call.%s' % ','.join(sorted(values)), others)
            if Warning.check(key):
                with without_check_access():
                    names = ', '.join(o.rec_name for o in others)
                raise DoNotCallWarning(key, gettext(
                        'sale_opportunity_management'
                        '.msg_prospect_do_not_call_contact',
                        prospect=prospect.rec_name,
                        values=', '.join(sorted(values)),
                        others=names))

    @classmethod
    def _do_not_call_contacts(cls, ids):
        """Return {prospect id: {value: other prospect}}: the contact values
        the prospects share with others who asked not to be called, active
        or not (as the import), whatever the record rules"""
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        shared = defaultdict(dict)
        if not ids:
            return shared
        ids = set(ids)
        with without_check_access():
            mine = ContactMethod.compacts_of(ids)
            for compact, others in ContactMethod.sharing(
                    mine, where=cls._do_not_call_where).items():
                for other_id, value in others:
                    if other_id in ids:
                        continue
                    for prospect_id in mine[compact]:
                        shared[prospect_id].setdefault(
                            value, cls(other_id))
        return shared

    @classmethod
    def _do_not_call_where(cls, prospect):
        "Return the condition on the prospect table of a do-not-call prospect"
        return prospect.do_not_call == Literal(True)

    @classmethod
    def unassigned(cls, business_unit=None):
        return [p for p in super().unassigned(business_unit=business_unit)
            if not p.do_not_call]

    @classmethod
    def assign(cls, prospects, operators, business_unit=None):
        # Nobody is to call them
        super().assign(
            [p for p in prospects if not p.do_not_call], operators,
            business_unit=business_unit)


class ContactMethod(metaclass=PoolMeta):
    __name__ = 'prospect.contact_method'

    @classmethod
    def on_modification(cls, mode, methods, field_names=None):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        if mode == 'create' or (
                mode == 'write' and {'value', 'contact_type'} & field_names):
            Prospect.check_do_not_call_contacts(
                list({m.prospect for m in methods}))
        super().on_modification(mode, methods, field_names=field_names)


class ProspectTrace(metaclass=PoolMeta):
    __name__ = 'sale.prospect_trace'

    @classmethod
    def open_for(cls, prospects, business_unit=None):
        super().open_for(
            [p for p in prospects if not p.do_not_call],
            business_unit=business_unit)


class MakeCallStart(metaclass=PoolMeta):
    __name__ = 'sale.prospect_trace.make_call.start'

    def log(self, trace, next_call=None):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        call = super().log(trace, next_call=next_call)
        if self.do_not_call:
            Prospect.mark_do_not_call([trace.prospect])
        return call


class AssignStart(metaclass=PoolMeta):
    __name__ = 'sale.prospect.assign.start'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.prospects.domain = [
            cls.prospects.domain,
            ('do_not_call', '=', False),
            ]


class Assign(metaclass=PoolMeta):
    __name__ = 'sale.prospect.assign'

    def default_start(self, fields):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        values = super().default_start(fields)
        if values.get('prospects'):
            values['prospects'] = [p.id for p in Prospect.browse(
                    values['prospects']) if not p.do_not_call]
        return values


class ReassignStart(metaclass=PoolMeta):
    __name__ = 'sale.prospect.reassign.start'

    @fields.depends('prospects')
    def on_change_from_operator(self):
        super().on_change_from_operator()
        self.prospects = [
            p for p in (self.prospects or []) if not p.do_not_call]


class NextCall(metaclass=PoolMeta):
    __name__ = 'sale.prospect_trace.next_call'

    @classmethod
    def _domain(cls):
        # Even when an administrator reopened one of their traces
        return super()._domain() + [
            ('prospect.do_not_call', '=', False),
            ]
