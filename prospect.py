# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import re
import unicodedata
from collections import defaultdict

from sql import Literal, Null, Union
from sql.conditionals import Case

import trytond.config as config
from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    ChatMixin, DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow,
    fields)
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .common import (
    RecordAccessMixin, any_field_domain, in_group, is_prospect_admin)
from .contact_method import (
    PHONE_TYPES, default_phone_country, phone_search_values)
from .exceptions import (
    DuplicateProspectWarning, ProspectAccessError)

# Legal forms left out when names are compared for duplicates
LEGAL_FORMS = {
    'sas', 'sa', 'ltda', 'ltd', 'llc', 'inc', 'srl', 'sl', 'gmbh', 'eu',
    'scs', 'sca', 'ooo', 'ооо', 'оао', 'зао', 'co', 'corp', 'plc',
    }


def name_key(name):
    """Return the form of a business name used to detect duplicates:
    case, accents, punctuation, spacing and legal forms ignored"""
    name = unicodedata.normalize('NFKD', (name or '').casefold())
    name = ''.join(c for c in name if not unicodedata.combining(c))
    name = re.sub(r'[.\-]', '', name)
    words = [w for w in re.split(r'\W+', name) if w]
    return ''.join(w for w in words if w not in LEGAL_FORMS) or None


class BusinessUnit(
        RecordAccessMixin, DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'sale.business_unit'

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code")

    @classmethod
    def __setup__(cls):
        cls.code.search_unaccented = False
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('code_unique', Unique(t, t.code),
                'sale_opportunity_management.msg_business_unit_code_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))


class Prospect(
        RecordAccessMixin, DeactivableMixin, Workflow, ModelSQL, ModelView,
        ChatMixin):
    __name__ = 'sale.prospect'
    _transition_state = 'stage'
    _client_readonly = {'stage', 'state', 'name_key'}

    name = fields.Char("Name", required=True, help="The business name.")
    name_key = fields.Char("Name Key", readonly=True)
    city = fields.Char("City")
    country = fields.Many2One('country.country', "Country")
    subdivision = fields.Many2One(
        'country.subdivision', "Subdivision",
        domain=[
            If(Eval('country'),
                ('country', '=', Eval('country', -1)),
                ()),
            ])
    address = fields.Text("Address")
    contact_methods = fields.One2Many(
        'prospect.contact_method', 'prospect', "Contact Methods")
    phone = fields.Function(fields.Char(
            "Phone",
            help="The first active phone number of the contact methods."),
        searcher='search_phone')
    party = fields.Many2One(
        'party.party', "Party", ondelete='RESTRICT',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="The party related to the prospect.")
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit", ondelete='RESTRICT')
    assigned_operator = fields.Many2One(
        'res.user', "Assigned Operator", ondelete='RESTRICT',
        states={
            'readonly': True,
            })
    state = fields.Selection([
            ('unassigned', "Unassigned"),
            ('assigned', "Assigned"),
            ], "State", required=True, sort=False,
        states={
            'readonly': True,
            })
    stage = fields.Selection([
            ('lead', "Lead"),
            ('qualified', "Qualified"),
            ('agreement', "Agreement"),
            ('customer', "Customer"),
            ('lost', "Lost"),
            ], "Stage", required=True, readonly=True, sort=False)
    answers = fields.Many2Many(
        'sale.prospect-sale.prospect.question.answer', 'prospect', 'answer',
        "Answers")
    segments = fields.Function(fields.Many2Many(
            'sale.prospect.segment', None, None, "Segments",
            help="The segments matching the answers."),
        'get_segments')
    categories = fields.Many2Many(
        'sale.prospect-party.category', 'prospect', 'category',
        "Categories")
    duplicates = fields.Function(fields.Many2Many(
            'sale.prospect', None, None, "Possible Duplicates",
            help="Active prospects with the same name "
            "or sharing a contact value."),
        'get_duplicates')
    duplicate_names = fields.Function(fields.Char(
            "Possible Duplicates",
            states={
                'invisible': ~Eval('duplicate_names'),
                },
            help="The active prospects with the same name "
            "or sharing a contact value with the one being registered."),
        'get_duplicate_names')
    comment = fields.Text("Comment")
    company = fields.Many2One(
        'company.company', "Company", ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.name_key, Index.Equality())),
                Index(
                    t, (t.state, Index.Equality(cardinality='low')),
                    where=t.state == 'unassigned'),
                # In the order of the list, all the prospects and an
                # operator's
                Index(t, (t.name, Index.Range()), (t.id, Index.Range())),
                Index(
                    t, (t.assigned_operator, Index.Equality()),
                    (t.name, Index.Range()), (t.id, Index.Range())),
                })
        cls._order.insert(0, ('name', 'ASC'))
        cls._transitions |= {
            ('lead', 'qualified'),
            ('qualified', 'agreement'),
            ('agreement', 'customer'),
            ('lead', 'lost'),
            ('qualified', 'lost'),
            ('agreement', 'lost'),
            ('lost', 'qualified'),
            }
        cls._buttons.update({
                'qualify': {
                    'invisible': Eval('stage') != 'lead',
                    'depends': ['stage'],
                    },
                'sign_agreement': {
                    'invisible': Eval('stage') != 'qualified',
                    'depends': ['stage'],
                    },
                'make_customer': {
                    'invisible': Eval('stage') != 'agreement',
                    'depends': ['stage'],
                    },
                'lose': {
                    'invisible': ~Eval('stage').in_(
                        ['lead', 'qualified', 'agreement']),
                    'depends': ['stage'],
                    },
                'reopen': {
                    'invisible': Eval('stage') != 'lost',
                    'depends': ['stage'],
                    },
                'create_party': {
                    'invisible': Bool(Eval('party')),
                    'depends': ['party'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'unassigned'

    @classmethod
    def default_stage(cls):
        return 'lead'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_country(cls):
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        country = Configuration(1).default_country
        return country.id if country else None

    @classmethod
    def column_phone(cls, tables):
        "The value of the first active phone-like contact method"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        table, _ = tables[None]
        method = ContactMethod.__table__()
        return method.select(method.value,
            where=(method.prospect == table.id)
            & (method.active == Literal(True))
            & method.contact_type.in_(sorted(PHONE_TYPES)),
            order_by=[
                Case((method.sequence == Null, 0), else_=1),
                method.sequence, method.id],
            limit=1)

    @classmethod
    def search_phone(cls, name, clause):
        return [('contact_methods', 'where', [
                    ('value',) + tuple(clause[1:]),
                    ('contact_type', 'in', sorted(PHONE_TYPES)),
                    ])]

    @fields.depends('country', 'subdivision')
    def on_change_country(self):
        if (self.subdivision
                and self.subdivision.country != self.country):
            self.subdivision = None

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        if isinstance(value, str) and operator in {'ilike', 'like', '='}:
            return ['OR',
                ('name', operator, value),
                ('id', 'in', cls._with_contact(operator, value)),
                ]
        return any_field_domain(clause, ['name', 'contact_methods.value'])

    @classmethod
    def _with_contact(cls, operator, value):
        """Return the ids of the prospects with a contact method of the
        value, or with a phone number typed in another format; the query of
        them when they are many.

        A few ids let PostgreSQL find the prospects through the indexes of
        the name (combining the words typed), which a query joined to the
        name by OR would not: it reads every prospect"""
        ContactMethod = Pool().get('prospect.contact_method')
        method = ContactMethod.__table__()
        typed = value.strip('%')
        compacts = phone_search_values(typed, default_phone_country())
        compacts.add(typed.lower())
        values = ContactMethod.search(
            [('value', operator, value)], order=[], query=True)
        # On the column, not on the COALESCE of the ORM, for its index
        sharing = method.value_compact.in_(sorted(compacts))
        if Transaction().context.get('active_test', True):
            sharing &= method.active == Literal(True)
        query = Union(
            method.select(method.prospect, where=method.id.in_(values)),
            method.select(method.prospect, where=sharing))
        few = config.getint('database', 'subquery_threshold')
        cursor = Transaction().connection.cursor()
        cursor.execute(*query.select(query.prospect, limit=few + 1))
        ids = [i for i, in cursor]
        return ids if len(ids) <= few else query

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values.setdefault('assigned_operator', cls._creator_operator())
        # The state only follows the operator
        values.pop('state', None)
        if 'assigned_operator' in values:
            values['state'] = (
                'assigned' if values['assigned_operator'] else 'unassigned')
        if 'name' in values:
            values['name_key'] = name_key(values['name'])
        return values

    @classmethod
    def _creator_operator(cls):
        "Return the user to assign new prospects to, if any"
        Configuration = Pool().get('sale.prospect.configuration')
        user = Transaction().user
        if (user and Configuration(1).auto_assign_creator
                and in_group('group_prospect_operator')
                and not is_prospect_admin()):
            return user

    @classmethod
    def get_segments(cls, prospects, name):
        pool = Pool()
        Segment = pool.get('sale.prospect.segment')
        segments = Segment.search([])
        return {
            p.id: [s.id for s in segments if s.match(p)] for p in prospects}

    @classmethod
    @without_check_access
    def _duplicates(cls, prospects):
        """Return for each prospect the other active prospects with the same
        name key or sharing a contact value, whatever the record rules"""
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        result = defaultdict(set)
        by_key = defaultdict(set)
        for prospect in prospects:
            if prospect.name_key:
                by_key[prospect.name_key].add(prospect.id)
        for key, ids in cls._active_by_name_key(by_key).items():
            for prospect_id in by_key[key]:
                result[prospect_id].update(ids)
        by_compact = ContactMethod.compacts_of([p.id for p in prospects])
        for compact, others in ContactMethod.sharing(
                by_compact, where=cls._duplicate_where).items():
            for prospect_id in by_compact[compact]:
                result[prospect_id].update(o for o, _ in others)
        return {
            p.id: sorted(result[p.id] - {p.id}) for p in prospects}

    @classmethod
    def _duplicate_where(cls, prospect):
        "Return the condition on the prospect table of a possible duplicate"
        return prospect.active == Literal(True)

    @classmethod
    def _active_by_name_key(cls, keys):
        """Return {name key: {prospect id}} of the active prospects with the
        name keys (on the column as stored, so that it uses its index)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = defaultdict(set)
        for sub_keys in grouped_slice(
                sorted(k for k in keys if k), backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(table.name_key, table.id,
                    where=fields.SQL_OPERATORS['in'](table.name_key, sub_keys)
                    & cls._duplicate_where(table)))
            for key, prospect_id in cursor:
                result[key].add(prospect_id)
        return result

    @classmethod
    def get_duplicates(cls, prospects, name):
        return cls._duplicates(prospects)

    @classmethod
    def get_duplicate_names(cls, prospects, name):
        duplicates = cls._duplicates(prospects)
        ids = {i for d in duplicates.values() for i in d}
        with without_check_access():
            names = {p.id: p.rec_name for p in cls.browse(list(ids))}
        return {
            p.id: ', '.join(sorted(names[i] for i in duplicates[p.id]))
            or None
            for p in prospects}

    @fields.depends('id', 'name', 'contact_methods')
    def on_change_with_duplicate_names(self, name=None):
        """The names of the possible duplicates of the values typed, for the
        registration form"""
        compacts = set()
        for method in self.contact_methods or []:
            if getattr(method, 'value', None):
                try:
                    _, compact, _ = method._normalised()
                except Exception:
                    continue
                if compact:
                    compacts.add(compact)
        ids = self.find_duplicates(name_key(self.name), compacts)
        if self.id is not None and self.id >= 0:
            ids.discard(self.id)
        if ids:
            with without_check_access():
                return ', '.join(sorted(
                        p.rec_name for p in self.browse(list(ids))))

    @classmethod
    @without_check_access
    def find_duplicates(cls, key, compacts):
        """Return the ids of the active prospects with the name key or a
        contact value of compacts, whatever the record rules"""
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        ids = set()
        if key:
            ids.update(cls._active_by_name_key([key]).get(key, ()))
        for others in ContactMethod.sharing(
                compacts, where=cls._duplicate_where).values():
            ids.update(o for o, _ in others)
        return ids

    @classmethod
    def check_duplicates(cls, prospects):
        "Warn about the possible duplicates of the prospects"
        pool = Pool()
        Warning = pool.get('res.user.warning')
        duplicates = cls._duplicates(prospects)
        ids = {i for d in duplicates.values() for i in d}
        if not ids:
            return
        with without_check_access():
            names = {p.id: p.rec_name for p in cls.browse(list(ids))}
        for prospect in prospects:
            if not duplicates[prospect.id]:
                continue
            # Keyed on what it warns about, not on the new record's id that
            # changes at each retry (PostgreSQL's sequences do not roll back)
            key = Warning.format(
                'prospect_duplicate.%s' % (prospect.name_key or ''),
                cls.browse(duplicates[prospect.id]))
            if Warning.check(key):
                raise DuplicateProspectWarning(key, gettext(
                        'sale_opportunity_management.msg_prospect_duplicate',
                        prospect=prospect.rec_name,
                        duplicates=', '.join(
                            names[i] for i in duplicates[prospect.id])))

    @classmethod
    def on_modification(cls, mode, prospects, field_names=None):
        super().on_modification(mode, prospects, field_names=field_names)
        if mode == 'create' or (
                mode == 'write' and {'name', 'answers'} & field_names):
            cls.apply_segments(prospects)
        if mode == 'create' or (mode == 'write' and 'name' in field_names):
            cls.check_duplicates(prospects)

    @classmethod
    def apply_segments(cls, prospects):
        """Set the categories of the matching segments, remove those of the
        segments no longer matched and fill an empty business unit"""
        pool = Pool()
        Segment = pool.get('sale.prospect.segment')
        with without_check_access():
            segments = Segment.search([])
        if not segments:
            return
        segment_categories = {s.category for s in segments if s.category}
        to_write = []
        for prospect in prospects:
            matching = [s for s in segments if s.match(prospect)]
            current = set(prospect.categories)
            categories = current - segment_categories
            categories |= {s.category for s in matching if s.category}
            values = {}
            if categories != current:
                values['categories'] = [
                    ('remove', [c.id for c in current - categories]),
                    ('add', [c.id for c in categories - current]),
                    ]
            if not prospect.business_unit:
                for segment in matching:
                    if segment.business_unit:
                        values['business_unit'] = segment.business_unit.id
                        break
            if values:
                to_write.extend(([prospect], values))
        if to_write:
            with without_check_access():
                cls.write(*to_write)

    @classmethod
    def check_modification(
            cls, mode, prospects, values=None, external=False):
        super().check_modification(
            mode, prospects, values=values, external=external)
        if external and mode == 'create':
            cls.check_creator(prospects)

    @classmethod
    def check_creator(cls, prospects):
        "Let operators create prospects only when they get them assigned"
        if (is_prospect_admin() or in_group('group_prospect_registrar')
                or cls._creator_operator()):
            return
        raise ProspectAccessError(gettext(
                'sale_opportunity_management.msg_prospect_create_operator'))

    @classmethod
    def copy(cls, prospects, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('assigned_operator', None)
        default.setdefault('state', 'unassigned')
        default.setdefault('party', None)
        default.setdefault('stage', 'lead')
        return super().copy(prospects, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('qualified')
    def qualify(cls, prospects):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('agreement')
    def sign_agreement(cls, prospects):
        cls.create_party(prospects)

    @classmethod
    @ModelView.button
    @Workflow.transition('customer')
    def make_customer(cls, prospects):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('qualified')
    def reopen(cls, prospects):
        pass

    @classmethod
    @ModelView.button
    def create_party(cls, prospects):
        "Create and link a party for the prospects without one"
        pool = Pool()
        Party = pool.get('party.party')
        prospects = [p for p in prospects if not p.party]
        parties = [p._party() for p in prospects]
        Party.save(parties)
        for prospect, party in zip(prospects, parties):
            prospect.party = party
        cls.save(prospects)

    def _party(self):
        "Return a new party built from the prospect"
        pool = Pool()
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        ContactMechanism = pool.get('party.contact_mechanism')
        party = Party(name=self.name)
        party.addresses = [Address(
                street=self.address, city=self.city,
                subdivision=self.subdivision, country=self.country)]
        types = {
            'mail': 'email', 'mobile': 'mobile', 'whatsapp': 'mobile',
            'phone': 'phone', 'website': 'website', 'other': 'other',
            }
        party.contact_mechanisms = [
            ContactMechanism(
                type=(types[m.contact_type] if m.valid_for_party()
                    else 'other'),
                value=m.value, name=m.name)
            for m in self.contact_methods]
        party.categories = self.categories
        return party


class ProspectCategory(ModelSQL):
    __name__ = 'sale.prospect-party.category'

    prospect = fields.Many2One(
        'sale.prospect', "Prospect", required=True, ondelete='CASCADE')
    category = fields.Many2One(
        'party.category', "Category", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('prospect')
