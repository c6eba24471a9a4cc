# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import re
from collections import defaultdict

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from sql import Literal

from email_validator import EmailUndeliverableError

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.tools.email_ import (
    EmailNotValidError, normalize_email, validate_email)
from trytond.transaction import Transaction

from .common import RecordAccessMixin, any_field_domain
from .exceptions import ContactMethodValidationError

CONTACT_TYPES = [
    ('phone', "Phone"),
    ('mobile', "Mobile"),
    ('mail', "E-Mail"),
    ('website', "Website"),
    ('whatsapp', "WhatsApp"),
    ('other', "Other"),
    ]
PHONE_TYPES = {'phone', 'mobile', 'whatsapp'}


def default_phone_country():
    "Return the code of the configured country for national numbers"
    Configuration = Pool().get('sale.prospect.configuration')
    country = Configuration(1).default_country
    return country.code if country else None


def dial_scheme():
    "Return the URL scheme that dials phone numbers: tel or sip"
    Configuration = Pool().get('sale.prospect.configuration')
    return Configuration(1).dial_scheme or 'tel'


def parse_phone(value, country_code=None):
    "Return the valid phone number of value or None"
    try:
        # The country is ignored when the value has an international prefix
        number = phonenumbers.parse(value, country_code)
    except NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        return number


def digits(value):
    return re.sub(r'\D', '', value or '')


def compact_phone(value, country_code=None):
    "Return the E.164 form of a valid phone number, else its digits"
    number = parse_phone(value, country_code)
    if number:
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return digits(value)


def phone_search_values(value, country_code=None):
    """Return the compact values under which the phone number typed in a
    search may have been stored"""
    values = set()
    number = parse_phone(value, country_code)
    if number:
        values.add(phonenumbers.format_number(number, PhoneNumberFormat.E164))
        values.add(phonenumbers.national_significant_number(number))
    if digits(value):
        values.add(digits(value))
    return values


class ContactMethod(
        RecordAccessMixin, DeactivableMixin, sequence_ordered(), ModelSQL,
        ModelView):
    __name__ = 'prospect.contact_method'
    _client_readonly = {'value_compact'}
    _rec_name = 'value'

    prospect = fields.Many2One(
        'sale.prospect', "Prospect", required=True, ondelete='CASCADE')
    contact_type = fields.Selection(
        CONTACT_TYPES, "Type", required=True, sort=False)
    contact_type_string = contact_type.translated('contact_type')
    value = fields.Char("Value", required=True)
    value_compact = fields.Char("Value Compact", readonly=True)
    invalid_phone = fields.Boolean(
        "Invalid Number", readonly=True,
        states={
            'invisible': ~Eval('invalid_phone', False),
            },
        help="The phone number could not be recognised: "
        "it is kept as typed.")
    name = fields.Char("Contact Person")
    job = fields.Char("Position")
    url = fields.Function(fields.Char(
            "URL",
            states={
                'invisible': ~Eval('url'),
                }),
        'on_change_with_url')
    url_icon = fields.Function(
        fields.Char("URL Icon"), 'on_change_with_url_icon')

    @classmethod
    def __setup__(cls):
        cls.value.search_unaccented = False
        cls.value_compact.search_unaccented = False
        super().__setup__()
        cls.__access__.add('prospect')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.value_compact, Index.Equality())),
                Index(t, (t.prospect, Index.Range())),
                })

    @classmethod
    def default_contact_type(cls):
        return 'mobile'

    def get_rec_name(self, name):
        value = self.value
        if self.name:
            value = '%s <%s>' % (self.name, value)
        return value

    @classmethod
    def search_rec_name(cls, name, clause):
        return any_field_domain(clause, ['value', 'value_compact', 'name'])

    @fields.depends('contact_type', 'value_compact', 'value')
    def on_change_with_url(self, name=None):
        value = self.value_compact or self.value
        if not value:
            return
        if self.contact_type in {'phone', 'mobile'}:
            return '%s:%s' % (dial_scheme(), value)
        elif self.contact_type == 'whatsapp':
            return 'https://wa.me/%s' % digits(value)
        elif self.contact_type == 'mail':
            return 'mailto:%s' % self.value
        elif self.contact_type == 'website':
            if '://' not in self.value:
                return 'https://%s' % self.value
            return self.value

    @fields.depends('contact_type')
    def on_change_with_url_icon(self, name=None):
        "The icon of the link: a call, a chat, an e-mail or a web page"
        return {
            'phone': 'tryton-call',
            'mobile': 'tryton-call',
            'whatsapp': 'tryton-chat',
            'mail': 'tryton-email',
            }.get(self.contact_type, 'tryton-public')

    @fields.depends('contact_type', 'value')
    def on_change_value(self):
        if self.contact_type == self.default_contact_type():
            # The type left as proposed follows what is typed
            self.contact_type = self._guess_type() or self.contact_type
        self.value, self.value_compact, self.invalid_phone = (
            self._normalised())

    def _guess_type(self):
        """Return the type the value looks like: an e-mail address, a
        website, a fixed or a mobile phone number; None when unsure"""
        value = (self.value or '').strip()
        if not value:
            return
        if re.fullmatch(r'[^@\s]+@[^@\s]+', value):
            return 'mail'
        if re.match(r'(https?://|www\.)', value, re.IGNORECASE):
            return 'website'
        number = parse_phone(value, default_phone_country())
        if number:
            kind = phonenumbers.number_type(number)
            if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
                return 'phone'
            elif kind == phonenumbers.PhoneNumberType.MOBILE:
                return 'mobile'

    def _normalised(self):
        "Return the value to keep, its compact form and the phone flag"
        value = self.value
        if not value:
            return value, None, False
        value = value.strip()
        if self.contact_type in PHONE_TYPES:
            country_code = default_phone_country()
            number = parse_phone(value, country_code)
            if number:
                value = phonenumbers.format_number(
                    number, PhoneNumberFormat.INTERNATIONAL)
            return value, compact_phone(value, country_code), not number
        elif self.contact_type == 'mail':
            return value, normalize_email(value).lower(), False
        return value, value.lower(), False

    def compute_fields(self, field_names=None):
        values = super().compute_fields(field_names=field_names)
        if field_names is None or {'value', 'contact_type'} & field_names:
            if getattr(self, 'value', None) is not None:
                value, compact, invalid = self._normalised()
                if self.value != value:
                    values['value'] = value
                if getattr(self, 'value_compact', None) != compact:
                    values['value_compact'] = compact
                if getattr(self, 'invalid_phone', None) != invalid:
                    values['invalid_phone'] = invalid
        return values

    def valid_for_party(self):
        "Tell whether a party contact mechanism would accept the value"
        if self.contact_type in PHONE_TYPES:
            return not self.invalid_phone
        if self.contact_type == 'mail':
            try:
                self.validate_mail(self.value)
            except EmailNotValidError:
                return False
        return True

    @classmethod
    def compacts_of(cls, prospect_ids):
        """Return {value_compact: {prospect id}}: the compact values of the
        active contact methods of the prospects, whatever the record rules"""
        method = cls.__table__()
        cursor = Transaction().connection.cursor()
        compacts = defaultdict(set)
        for sub_ids in grouped_slice(
                sorted(set(prospect_ids)), backend.MAX_QUERY_PARAMS):
            cursor.execute(*method.select(
                    method.value_compact, method.prospect,
                    where=fields.SQL_OPERATORS['in'](
                        method.prospect, sub_ids)
                    & (method.active == Literal(True))
                    & (method.value_compact != Literal(''))))
            for compact, prospect_id in cursor:
                compacts[compact].add(prospect_id)
        return compacts

    @classmethod
    def sharing(cls, compacts, where=None):
        """Return {value_compact: [(prospect id, value)]}: the active contact
        methods with one of the compact values whose prospect meets where,
        whatever the record rules, ordered by prospect.
        where is a function of the prospect table returning an SQL condition.
        """
        cursor = Transaction().connection.cursor()
        shared = defaultdict(list)
        for sub_compacts in grouped_slice(
                sorted({c for c in compacts if c}), backend.MAX_QUERY_PARAMS):
            cursor.execute(*cls._sharing_query(sub_compacts, where=where))
            for compact, prospect_id, value in cursor:
                shared[compact].append((prospect_id, value))
        return shared

    @classmethod
    def _sharing_query(cls, compacts, where=None):
        """Return the query of sharing for a batch of compact values: on the
        column as stored, not on the COALESCE the ORM compares for a Char
        that is not required, so that PostgreSQL uses its index"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        method = cls.__table__()
        prospect = Prospect.__table__()
        query = method
        condition = (
            fields.SQL_OPERATORS['in'](method.value_compact, compacts)
            & (method.active == Literal(True)))
        if where is not None:
            query = method.join(
                prospect, condition=method.prospect == prospect.id)
            condition &= where(prospect)
        return query.select(
            method.value_compact, method.prospect, method.value,
            where=condition,
            order_by=[method.prospect.asc, method.id.asc])

    @classmethod
    def on_modification(cls, mode, methods, field_names=None):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        super().on_modification(mode, methods, field_names=field_names)
        if mode == 'create' or (
                mode == 'write' and {'value', 'contact_type'} & field_names):
            Prospect.check_duplicates(list({m.prospect for m in methods}))

    @classmethod
    def validate_fields(cls, methods, field_names):
        super().validate_fields(methods, field_names)
        cls.check_mail(methods, field_names)

    @classmethod
    def validate_mail(cls, value):
        """Return the normalised address or raise EmailNotValidError, as
        party's contact mechanisms check theirs: the syntax, and outside the
        tests that the domain accepts mail when the name servers answer"""
        return validate_email(value)

    @classmethod
    def check_mail(cls, methods, field_names=None):
        if field_names and not (field_names & {'contact_type', 'value'}):
            return
        for method in methods:
            if method.contact_type != 'mail' or not method.value:
                continue
            try:
                cls.validate_mail(method.value)
            except EmailUndeliverableError:
                # Kept: the domain may be unknown to the name servers of the
                # server (or have none yet); the party made from the
                # prospect gets it as another contact
                pass
            except EmailNotValidError as exception:
                raise ContactMethodValidationError(gettext(
                        'sale_opportunity_management.msg_invalid_mail',
                        value=method.value,
                        prospect=method.prospect.rec_name),
                    str(exception)) from exception
