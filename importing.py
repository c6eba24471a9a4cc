# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"Import of prospect lists from CSV and XLSX files"
import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from collections import defaultdict
from itertools import islice

from email_validator import EmailNotValidError, validate_email
import phonenumbers
from phonenumbers import PhoneNumberFormat
from sql import Literal
from sql.aggregate import Count
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import (
    Transaction, check_access, inactive_records, without_check_access)

from .common import RecordAccessMixin
from .contact_method import (
    PHONE_TYPES, default_phone_country, digits, parse_phone)
from .exceptions import ImportFileError
from .prospect import name_key

# Rows created or looked up together: one query per batch, never per row
BATCH_SIZE = 250

# The columns recognised, by the key of their header (see header_key)
HEADERS = {
    'name': ['name', 'business name', 'razón social', 'nombre', 'empresa'],
    'city': ['city', 'ciudad'],
    'address': ['address', 'dirección'],
    'phone': ['phone', 'teléfono', 'tel'],
    'mobile': ['mobile', 'celular', 'móvil'],
    'whatsapp': ['whatsapp'],
    'mail': ['email', 'mail', 'correo', 'correo electrónico'],
    'website': ['website', 'web', 'sitio web', 'página web'],
    'contact': ['contact', 'contacto'],
    'job': ['job', 'position', 'cargo'],
    'business_unit': ['business unit', 'unidad de negocio', 'unidad'],
    'comment': ['comment', 'comments', 'observaciones', 'observación',
        'comentario', 'comentarios'],
    }
CONTACT_COLUMNS = {'phone', 'mobile', 'whatsapp', 'mail', 'website'}
# The separators of several values in one cell
SEPARATORS = {
    'phone': r'[/;|\n]+',
    'mail': r'[\s;,]+',
    'website': r'[\s;,]+',
    }
SEPARATORS['mobile'] = SEPARATORS['whatsapp'] = SEPARATORS['phone']

ZIP_MAGIC = b'PK\x03\x04'
OLE_MAGIC = b'\xd0\xcf\x11\xe0'  # the binary format of Excel 97-2003


def header_key(text):
    "Return the header ignoring case, accents, spacing and punctuation"
    text = unicodedata.normalize('NFKD', str(text or '').casefold())
    return ''.join(
        c for c in text if c.isalnum() and not unicodedata.combining(c))


COLUMNS = {header_key(h): c for c, hs in HEADERS.items() for h in hs}


def clean(value):
    "Return the value on one line with single spaces"
    return ' '.join(str(value or '').split())


# --- Reading the files ------------------------------------------------------

def read_table(data, filename=None):
    """Return the records of the file as lists of strings, the header
    first"""
    data = bytes(data or b'')
    if data.startswith(ZIP_MAGIC):
        return read_xlsx(data, filename)
    elif data.startswith(OLE_MAGIC):
        raise ImportFileError(gettext(
                'sale_opportunity_management.msg_prospect_import_format',
                filename=filename or ''))
    return read_csv(data)


def decode(data):
    "Return the text of CSV data in UTF-8 (with or without BOM) or Latin-1"
    for bom, encoding in [
            (codecs.BOM_UTF8, 'utf-8-sig'),
            (codecs.BOM_UTF16_LE, 'utf-16'),
            (codecs.BOM_UTF16_BE, 'utf-16'),
            ]:
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        pass
    try:
        # What "Latin-1" files saved by spreadsheets on Windows really are
        return data.decode('cp1252')
    except UnicodeDecodeError:
        return data.decode('latin-1')


def sniff_delimiter(text):
    """Return the delimiter (comma, semicolon or tab) that splits the first
    records of the text into the most regular columns"""
    sample = text[:64 * 1024]
    if len(sample) < len(text) and '\n' in sample:
        sample = sample[:sample.rindex('\n')]
    best, best_score = ',', None
    for delimiter in [',', ';', '\t']:
        reader = csv.reader(io.StringIO(sample, newline=''),
            delimiter=delimiter)
        records = []
        try:
            for record in islice(reader, 100):
                if any(c.strip() for c in record):
                    records.append(record)
        except csv.Error:
            pass
        if not records:
            continue
        width = len(records[0])
        regular = sum(len(r) == width for r in records) / len(records)
        score = (width > 1, regular, width)
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(data):
    text = decode(data).replace('\x00', '')
    delimiter = sniff_delimiter(text)
    # newline='' leaves the line breaks to the reader, which keeps those
    # quoted inside a value
    return csv.reader(io.StringIO(text, newline=''), delimiter=delimiter)


def read_xlsx(data, filename=None):
    import openpyxl
    try:
        workbook = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exception:
        raise ImportFileError(gettext(
                'sale_opportunity_management.msg_prospect_import_format',
                filename=filename or '')) from exception
    sheet = workbook.active or workbook.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield [cell_text(v) for v in values]
    workbook.close()


def cell_text(value):
    "Return the text of a spreadsheet cell"
    if value is None:
        return ''
    elif isinstance(value, bool):
        return str(value)
    elif isinstance(value, float) and value.is_integer():
        # phone numbers typed as numbers
        return str(int(value))
    elif isinstance(value, dt.datetime):
        return value.isoformat(' ', 'seconds').replace(' 00:00:00', '')
    elif isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


# --- Rows -------------------------------------------------------------------

class Contact:
    """A contact value of a row, normalised as the contact methods store it
    (ContactMethod._normalised), with the compact forms an existing
    prospect may have stored it under (phone_search_values), from a single
    parse of the number"""
    __slots__ = ('type', 'typed', 'value', 'compact', 'lookups', 'invalid')

    def __init__(self, type_, typed, country_code, mail=None):
        self.type = type_
        self.typed = typed
        self.value = value = typed.strip()
        self.invalid = False
        if type_ in PHONE_TYPES:
            number = parse_phone(value, country_code)
            self.invalid = number is None
            self.compact = digits(value)
            self.lookups = {self.compact} if self.compact else set()
            if number:
                self.value = phonenumbers.format_number(
                    number, PhoneNumberFormat.INTERNATIONAL)
                self.compact = phonenumbers.format_number(
                    number, PhoneNumberFormat.E164)
                self.lookups.add(self.compact)
                self.lookups.add(
                    phonenumbers.national_significant_number(number))
        elif type_ == 'mail':
            self.compact = (mail or value).lower()
            self.lookups = {self.compact}
        else:
            self.compact = value.lower()
            self.lookups = {self.compact} if self.compact else set()


class Row:
    "A data row of the file, read"
    __slots__ = (
        'number', 'cells', 'name', 'key', 'values', 'contacts', 'comment',
        'notes', 'rejection', 'business_unit')

    def __init__(self, number, cells):
        self.number = number
        self.cells = cells  # [(header as spelled, value)]
        self.name = None
        self.key = None
        self.values = {}
        self.contacts = []
        self.comment = []
        self.notes = []
        self.rejection = None
        self.business_unit = None

    def values_text(self):
        "Return the values of the row, to keep them in the line's message"
        return '\n'.join(
            '%s: %s' % (h, v) if h else v for h, v in self.cells if v)


class Target:
    """What a row resolves to: a prospect to create (from an earlier row of
    the file) or an existing prospect"""
    __slots__ = ('id', 'name', 'row', 'values', 'contacts', 'compacts')

    def __init__(self, id_=None, name=None, row=None):
        self.id = id_
        self.name = name
        self.row = row  # the row creating the prospect
        self.values = None
        self.contacts = []
        self.compacts = set()


class Columns:
    "The meaning of the columns of a file, from its header"

    def __init__(self, header):
        self.header = [str(h or '').strip() for h in header]
        self.fields = []  # for each column: the field or None (unknown)
        seen = set()
        for title in self.header:
            field = COLUMNS.get(header_key(title))
            if field in seen and field not in CONTACT_COLUMNS:
                # a second column of a single value is kept in the comment
                field = None
            if field:
                seen.add(field)
            self.fields.append(field)

    def column(self, index):
        "Return the header and the field of the column"
        if index < len(self.header):
            return self.header[index], self.fields[index]
        return '', None

    @property
    def has_name(self):
        return 'name' in self.fields


# --- Models -----------------------------------------------------------------

class Import(RecordAccessMixin, Workflow, ModelSQL, ModelView):
    __name__ = 'sale.prospect.import'
    _rec_name = 'filename'
    _client_readonly = {'state'}

    _states = {
        'readonly': Eval('state') != 'draft',
        }

    file = fields.Binary(
        "File", filename='filename', required=True, states=_states,
        help="A CSV file (comma, semicolon or tab, UTF-8 or Latin-1) "
        "or an Excel workbook (XLSX) with one header row.")
    filename = fields.Char("File Name", states=_states)
    company = fields.Many2One(
        'company.company', "Company", ondelete='RESTRICT', states=_states,
        help="The company of the prospects created.")
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit", ondelete='RESTRICT',
        states=_states,
        help="The business unit of the rows that name none.")
    on_duplicate = fields.Selection([
            ('skip', "Skip"),
            ('merge', "Merge"),
            ('create', "Create"),
            ], "On Duplicate", required=True, sort=False, states=_states,
        help="What to do with a row that may duplicate an existing "
        "prospect or an earlier row:\n"
        "- Skip: leave it out;\n"
        "- Merge: add its new contact methods and the values missing to "
        "the prospect;\n"
        "- Create: create it anyway.")
    lines = fields.One2Many(
        'sale.prospect.import.line', 'prospect_import', "Lines",
        readonly=True)
    imported = fields.Function(fields.Integer("Imported"), 'get_counts')
    merged = fields.Function(fields.Integer("Merged"), 'get_counts')
    skipped = fields.Function(fields.Integer("Skipped"), 'get_counts')
    rejected = fields.Function(fields.Integer("Rejected"), 'get_counts')
    state = fields.Selection([
            ('draft', "Draft"),
            ('done', "Done"),
            ], "State", required=True, readonly=True, sort=False)

    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('create_date', 'DESC'),
            ('id', 'DESC'),
            ]
        cls._transitions |= {
            ('draft', 'done'),
            }
        cls._buttons.update({
                'process': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_on_duplicate(cls):
        return 'skip'

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def get_counts(cls, imports, names):
        pool = Pool()
        Line = pool.get('sale.prospect.import.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        result = {n: dict.fromkeys(map(int, imports), 0) for n in names}
        for sub_ids in grouped_slice(
                list(map(int, imports)), backend.MAX_QUERY_PARAMS):
            cursor.execute(*line.select(
                    line.prospect_import, line.status, Count(line.id),
                    where=fields.SQL_OPERATORS['in'](
                        line.prospect_import, sub_ids),
                    group_by=[line.prospect_import, line.status]))
            for import_id, status, count in cursor:
                if status in result:
                    result[status][import_id] = int(count)
        return result

    @classmethod
    def check_modification(cls, mode, imports, values=None, external=False):
        super().check_modification(
            mode, imports, values=values, external=external)
        if mode == 'write' and external:
            for import_ in imports:
                if import_.state == 'done':
                    raise AccessError(gettext(
                            'sale_opportunity_management'
                            '.msg_prospect_import_done',
                            import_=import_.rec_name))

    @classmethod
    def copy(cls, imports, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('lines', None)
        default.setdefault('state', 'draft')
        return super().copy(imports, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def process(cls, imports):
        # The button is for the groups that import: the rows are then
        # looked up and written whatever the record rules, but merged only
        # into the prospects the user may change (writable_prospects)
        for import_ in imports:
            with without_check_access(), Transaction().set_context(
                    _prospect_import=True, _skip_warnings=True,
                    company=import_.company.id if import_.company else None):
                import_.get_importer().run()

    def get_importer(self):
        "Return what processes the rows of the import"
        return Importer(self)

    def read_records(self):
        "Return the records of the file as lists of strings, the header first"
        return read_table(self.file, self.filename)

    @classmethod
    def business_units(cls):
        """Return the ids of the business units by the key of their code
        and of their name, as typed and in English"""
        pool = Pool()
        BusinessUnit = pool.get('sale.business_unit')
        units = {}
        for language in [None, 'en']:
            context = {'language': language} if language else {}
            with Transaction().set_context(context, active_test=False):
                for unit in BusinessUnit.search([]):
                    for text in [unit.code, unit.name]:
                        if text:
                            units.setdefault(header_key(text), unit.id)
        return units

    @classmethod
    def parse_mail(cls, value):
        """Return the normalised form of the e-mail address and None, or
        None and why it is not an address.
        As normalize_email, on the syntax only: a domain without DNS answer
        is accepted, as the contact methods do, and no name server is asked
        for each row."""
        try:
            info = validate_email(
                value, check_deliverability=False, test_environment=Pool.test)
        except EmailNotValidError as exception:
            return None, str(exception)
        return info.normalized, None

    @classmethod
    def prospect_values(cls, row, business_unit):
        "Return the values of the prospect to create for the row"
        return {
            'name': row.name,
            'city': row.values.get('city'),
            'address': row.values.get('address'),
            'business_unit': row.business_unit or business_unit,
            'comment': '\n'.join(row.comment) or None,
            # ready for the assignment wizard, whoever imports
            'assigned_operator': None,
            }

    @classmethod
    def fill_values(cls, current, values, row, business_unit):
        """Fill the values of a prospect (current the values it has) with
        those of the row for the fields still empty, and add the comment of
        the row"""
        for name in ['city', 'address']:
            if (not current.get(name) and not values.get(name)
                    and row.values.get(name)):
                values[name] = row.values[name]
        unit = row.business_unit or business_unit
        if (not current.get('business_unit')
                and not values.get('business_unit') and unit):
            values['business_unit'] = unit
        comment = add_lines(
            values.get('comment', current.get('comment')), row.comment)
        if comment != current.get('comment'):
            values['comment'] = comment

    @classmethod
    def writable_prospects(cls, ids):
        """Return the ids of the prospects that the user may change (the
        rows are processed without access checks)"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        ModelAccess = pool.get('ir.model.access')
        Rule = pool.get('ir.rule')
        if not Transaction().user:
            return set(ids)
        with check_access():
            if not ModelAccess.check(
                    Prospect.__name__, mode='write', raise_exception=False):
                return set()
            domain = Rule.domain_get(Prospect.__name__, mode='write')
        writable = set()
        with without_check_access(), inactive_records():
            for sub_ids in grouped_slice(sorted(ids)):
                writable.update(map(int, Prospect.search([
                                ('id', 'in', list(sub_ids)),
                                domain,
                                ], order=[])))
        return writable


class ImportLine(RecordAccessMixin, ModelSQL, ModelView):
    __name__ = 'sale.prospect.import.line'

    prospect_import = fields.Many2One(
        'sale.prospect.import', "Import", required=True, ondelete='CASCADE',
        readonly=True)
    row = fields.Integer(
        "Row", readonly=True, help="1 is the first row after the header.")
    name = fields.Char("Name", readonly=True)
    status = fields.Selection([
            ('imported', "Imported"),
            ('merged', "Merged"),
            ('skipped', "Skipped"),
            ('rejected', "Rejected"),
            ], "Status", required=True, readonly=True, sort=False)
    message = fields.Text("Message", readonly=True)
    prospect = fields.Many2One(
        'sale.prospect', "Prospect", ondelete='SET NULL', readonly=True,
        help="The prospect created, merged into or duplicated.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(
                t, (t.prospect_import, Index.Range()),
                (t.status, Index.Equality(cardinality='low'))))
        cls._order = [
            ('prospect_import', 'DESC'),
            ('row', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('status') == 'rejected', 'danger',
                    If(Eval('status') == 'skipped', 'muted', ''))),
            ]


class Prospect(metaclass=PoolMeta):
    __name__ = 'sale.prospect'

    @classmethod
    def _creator_operator(cls):
        # Imported prospects are left for the assignment wizard
        if Transaction().context.get('_prospect_import'):
            return None
        return super()._creator_operator()

    @classmethod
    def check_duplicates(cls, prospects):
        # The import reports the duplicates on its lines, for all the rows
        # of a batch at once
        if not Transaction().context.get('_prospect_import'):
            super().check_duplicates(prospects)

    @classmethod
    def check_do_not_call_contacts(cls, prospects):
        # The import rejected the rows with the number or address of a
        # prospect who asked not to be called, for a batch at once
        if not Transaction().context.get('_prospect_import'):
            super().check_do_not_call_contacts(prospects)


class ContactMethod(metaclass=PoolMeta):
    __name__ = 'prospect.contact_method'

    def _normalised(self):
        # The import creates the methods with the values it normalised
        # (Contact) and does not parse them a second time
        if Transaction().context.get('_prospect_import'):
            return self.value, self.value_compact, bool(self.invalid_phone)
        return super()._normalised()

    @classmethod
    def check_mail(cls, methods, field_names=None):
        # The import rejected the rows with an address refused here (see
        # Import.parse_mail) without asking a name server for each row
        if not Transaction().context.get('_prospect_import'):
            super().check_mail(methods, field_names=field_names)


# --- Processing -------------------------------------------------------------

class Importer:
    """Process the rows of an import, batch by batch.

    It keeps what the run has met (the earlier rows, the prospects found);
    what the rows give the prospects is the import model's to say
    (sale.prospect.import), which modules extend through the pool."""

    def __init__(self, import_):
        self.Import = Pool().get('sale.prospect.import')
        self.import_ = import_
        self.on_duplicate = import_.on_duplicate or 'skip'
        self.country_code = default_phone_country()
        self.default_unit = (
            import_.business_unit.id if import_.business_unit else None)
        self.units = self.Import.business_units()
        # The earlier rows by name key and by contact value
        self.by_key = {}
        self.by_compact = {}
        # The existing prospects met: their target and name by id, and those
        # the user may change (to merge into) among those checked
        self.existing = {}
        self.names = {}
        self.writable = set()
        self.checked = set()

    def run(self):
        records = iter(self.import_.read_records())
        self.columns = self.read_header(records)
        batch = []
        for number, record in enumerate(records, 1):
            if not any(c.strip() for c in record):
                # a blank row holds nothing to lose
                continue
            batch.append(self.read_row(number, record))
            if len(batch) >= BATCH_SIZE:
                self.process(batch)
                batch = []
        if batch:
            self.process(batch)

    def read_header(self, records):
        "Return the columns named by the first record that is not blank"
        filename = self.import_.filename or ''
        for record in records:
            if any(c.strip() for c in record):
                break
        else:
            raise ImportFileError(gettext(
                    'sale_opportunity_management.msg_prospect_import_empty',
                    filename=filename))
        columns = Columns(record)
        if not columns.has_name:
            raise ImportFileError(gettext(
                    'sale_opportunity_management'
                    '.msg_prospect_import_no_name_column',
                    filename=filename,
                    headers=', '.join(h for h in columns.header if h)))
        return columns

    def read_row(self, number, record):
        "Return the row of the record, checked"
        row = Row(number, [])
        for i, value in enumerate(record):
            header, field = self.columns.column(i)
            value = value.strip()
            row.cells.append((header, value))
            if value:
                self.read_cell(row, header, field, value)
        if not row.name:
            row.rejection = gettext(
                'sale_opportunity_management.msg_prospect_import_no_name')
        else:
            row.key = name_key(row.name)
        return row

    def read_cell(self, row, header, field, value):
        "Read into the row the value of the cell of the column of the field"
        if field in CONTACT_COLUMNS and (
                field not in PHONE_TYPES or re.search(r'\d', value)):
            self.read_contacts(row, field, value)
        elif field == 'name':
            row.name = clean(value)
        elif field in {'city', 'contact', 'job'}:
            row.values[field] = clean(value)
        elif field == 'address':
            row.values['address'] = '\n'.join(
                clean(line) for line in value.splitlines() if line.strip())
        elif field == 'comment':
            # before the values of the other columns kept in the comment
            row.comment.insert(0, value)
        elif field == 'business_unit' and header_key(value) in self.units:
            row.business_unit = self.units[header_key(value)]
        else:
            # the unknown columns, a phone cell without number and a
            # business unit not found are kept in the comment
            row.comment.append('%s: %s' % (header, value) if header else value)
            if field == 'business_unit':
                row.notes.append(gettext(
                        'sale_opportunity_management'
                        '.msg_prospect_import_unknown_business_unit',
                        value=value))

    def read_contacts(self, row, field, value):
        "Add to the row the contacts of the cell, which may hold several"
        for part in re.split(SEPARATORS[field], value):
            part = part.strip()
            if part:
                self.add_contact(row, field, part)

    def add_contact(self, row, field, value):
        "Add to the row the contact of the value, unless it has it already"
        mail = None
        if field == 'mail':
            mail, error = self.Import.parse_mail(value)
            if error:
                if not row.rejection:
                    row.rejection = gettext(
                        'sale_opportunity_management'
                        '.msg_prospect_import_invalid_mail',
                        value=value)
                return
        contact = Contact(field, value, self.country_code, mail)
        if any(c.type == contact.type and c.compact == contact.compact
                for c in row.contacts):
            return
        if contact.invalid:
            row.notes.append(gettext(
                    'sale_opportunity_management'
                    '.msg_prospect_import_invalid_phone',
                    value=value))
        row.contacts.append(contact)

    def process(self, rows):
        "Import a batch of rows"
        found = self.look_up(rows)
        if self.on_duplicate == 'merge':
            self.check_writable()
        lines, to_create, to_merge = [], [], defaultdict(list)
        for row in rows:
            lines.append(self.process_row(row, found, to_create, to_merge))
        self.create(to_create)
        self.merge(to_merge)
        self.create_lines(lines)

    def process_row(self, row, found, to_create, to_merge):
        """Return the line of the row (row, status, target, message), the
        prospect to create added to to_create or the row to merge to
        to_merge"""
        if not row.rejection:
            self.reject_do_not_call(row, found)
        if row.rejection:
            return (row, 'rejected', None,
                '\n'.join([row.rejection, row.values_text()]))
        matches = self.matches(row, found)
        if not matches or self.on_duplicate == 'create':
            target = self.new_target(row)
            to_create.append(target)
            status, message = 'imported', self.imported_message(matches)
        else:
            target = self.merge_target(matches)
            if target:
                status, message = 'merged', self.merge_row(
                    row, target, to_merge)
            else:
                target = matches[0]
                status, message = 'skipped', self.skipped_message(
                    row, matches)
        self.remember(row, target)
        message = '\n'.join(filter(None, [message] + row.notes))
        return row, status, target, message or None

    def imported_message(self, matches):
        "Return the message of a row imported, warning of its duplicates"
        if matches:
            return gettext(
                'sale_opportunity_management'
                '.msg_prospect_import_created_duplicate',
                prospects=self.names_text(matches))

    def skipped_message(self, row, matches):
        """Return why the row is left alone, followed by its values, which
        are kept there"""
        if self.on_duplicate == 'merge':
            # none of the duplicates is one the user may change
            reason = 'msg_prospect_import_not_writable'
        else:
            reason = 'msg_prospect_import_skipped'
        row.notes = []
        return '\n'.join([
                gettext('sale_opportunity_management.' + reason,
                    prospects=self.names_text(matches)),
                row.values_text()])

    def merge_target(self, matches):
        """Return the first of the matches to merge the row into: one that
        the user may change, or None"""
        if self.on_duplicate == 'merge':
            for target in matches:
                # the earlier rows of the file created their prospect
                if target.row is not None or target.id in self.writable:
                    return target

    def merge_row(self, row, target, to_merge):
        "Merge the row into the target; return the message of the line"
        if target.values is not None:
            # the prospect of an earlier row of the batch, to create
            self.Import.fill_values(
                {}, target.values, row, self.default_unit)
            self.add_contacts(target, row)
        else:
            to_merge[target].append(row)
        return gettext(
            'sale_opportunity_management.msg_prospect_import_merged',
            prospect=self.names_text([target]))

    def check_writable(self):
        "Find which of the prospects met the user may change"
        ids = self.names.keys() - self.checked
        self.checked |= ids
        self.writable |= self.Import.writable_prospects(ids)

    def look_up(self, rows):
        """Return the active prospects with the name keys of the rows, and
        the prospects with their contact values (active or do not call)"""
        rows = [r for r in rows if not r.rejection]
        keys = {r.key for r in rows if r.key}
        compacts = {v for r in rows for c in r.contacts for v in c.lookups}
        by_key = self.look_up_names(keys)
        return (by_key, *self.look_up_contacts(compacts))

    def look_up_names(self, keys):
        "Return the ids of the active prospects by name key"
        Prospect = Pool().get('sale.prospect')
        prospect = Prospect.__table__()
        cursor = Transaction().connection.cursor()
        by_key = defaultdict(list)
        for sub_keys in grouped_slice(sorted(keys), backend.MAX_QUERY_PARAMS):
            cursor.execute(*prospect.select(
                    prospect.id, prospect.name, prospect.name_key,
                    where=fields.SQL_OPERATORS['in'](
                        prospect.name_key, sub_keys)
                    & (prospect.active == Literal(True)),
                    order_by=[prospect.id.asc]))
            for id_, name, key in cursor:
                self.names[id_] = name
                by_key[key].append(id_)
        return by_key

    def look_up_contacts(self, compacts):
        """Return the ids of the active prospects by contact value, and the
        first prospect who asked not to be called by contact value"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        ContactMethod = pool.get('prospect.contact_method')
        prospect = Prospect.__table__()
        method = ContactMethod.__table__()
        cursor = Transaction().connection.cursor()
        by_compact, do_not_call = defaultdict(list), {}
        for sub_compacts in grouped_slice(
                sorted(compacts), backend.MAX_QUERY_PARAMS):
            cursor.execute(*method.join(
                    prospect, condition=method.prospect == prospect.id
                    ).select(
                    method.value_compact, prospect.id, prospect.name,
                    prospect.active, prospect.do_not_call,
                    where=fields.SQL_OPERATORS['in'](
                        method.value_compact, sub_compacts)
                    & ((prospect.active == Literal(True))
                        | (prospect.do_not_call == Literal(True))),
                    order_by=[prospect.id.asc]))
            for compact, id_, name, active, dnc in cursor:
                self.names[id_] = name
                if dnc:
                    do_not_call.setdefault(compact, id_)
                if active and id_ not in by_compact[compact]:
                    by_compact[compact].append(id_)
        return by_compact, do_not_call

    def reject_do_not_call(self, row, found):
        _, _, do_not_call = found
        for contact in row.contacts:
            for value in sorted(contact.lookups):
                if value in do_not_call:
                    row.rejection = gettext(
                        'sale_opportunity_management'
                        '.msg_prospect_import_do_not_call',
                        value=contact.typed,
                        prospect=self.names[do_not_call[value]])
                    return

    def matches(self, row, found):
        """Return the possible duplicates of the row: the earlier rows
        first, then the existing prospects"""
        by_key, by_compact, _ = found
        earlier = self.row_values(row, self.by_key, self.by_compact)
        matches = list(dict.fromkeys(earlier))
        known = {t.id for t in matches if t.id}
        existing = self.row_values(row, by_key, by_compact)
        existing = [i for ids in existing for i in ids]
        for id_ in dict.fromkeys(existing):
            if id_ not in known:
                matches.append(self.existing_target(id_))
        return matches

    @staticmethod
    def row_values(row, by_key, by_compact):
        """Return the values of the mappings for the name key of the row,
        then for its contact values"""
        values = []
        if row.key and row.key in by_key:
            values.append(by_key[row.key])
        for contact in row.contacts:
            for compact in sorted(contact.lookups):
                if compact in by_compact:
                    values.append(by_compact[compact])
        return values

    def existing_target(self, id_):
        target = self.existing.get(id_)
        if target is None:
            target = self.existing[id_] = Target(id_, self.names.get(id_))
        return target

    def names_text(self, targets):
        names = []
        for target in targets:
            if target.row:
                names.append(gettext(
                        'sale_opportunity_management'
                        '.msg_prospect_import_row_name',
                        name=target.name, row=target.row))
            else:
                names.append('"%s"' % target.name)
        return ', '.join(names)

    def remember(self, row, target):
        "Make the later rows find the row"
        if row.key:
            self.by_key.setdefault(row.key, target)
        for contact in row.contacts:
            for value in contact.lookups:
                self.by_compact.setdefault(value, target)

    def new_target(self, row):
        "Return the prospect to create for the row"
        target = Target(name=row.name, row=row.number)
        target.values = self.Import.prospect_values(row, self.default_unit)
        self.add_contacts(target, row)
        return target

    def add_contacts(self, target, row):
        "Add to the target the contacts of the row that it has not"
        for contact in row.contacts:
            if contact.compact and contact.compact in target.compacts:
                continue
            target.compacts.add(contact.compact)
            target.contacts.append({
                    'contact_type': contact.type,
                    'value': contact.value,
                    'value_compact': contact.compact,
                    'invalid_phone': contact.invalid,
                    'name': row.values.get('contact'),
                    'job': row.values.get('job'),
                    })

    def create(self, targets):
        "Create the prospects and their contact methods, one call each"
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        if not targets:
            return
        prospects = Prospect.create([t.values for t in targets])
        for target, prospect in zip(targets, prospects):
            target.id = prospect.id
            # merging into it is over with this batch
            target.values = None
        self.create_contacts(targets)

    def merge(self, to_merge):
        """Add to the existing prospects the new contact methods and the
        values they miss"""
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        if not to_merge:
            return
        targets = {t.id: t for t in to_merge}
        compacts = self.stored_compacts(list(targets))
        to_write = []
        for prospect in Prospect.browse(list(targets)):
            target = targets[prospect.id]
            target.compacts = compacts[prospect.id]
            current = {n: getattr(prospect, n)
                for n in ['city', 'address', 'business_unit', 'comment']}
            values = {}
            for row in to_merge[target]:
                self.Import.fill_values(
                    current, values, row, self.default_unit)
                self.add_contacts(target, row)
            if values:
                to_write.extend(([prospect], values))
        if to_write:
            Prospect.write(*to_write)
        self.create_contacts(list(to_merge))

    def stored_compacts(self, ids):
        "Return the compact contact values stored for each prospect id"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        method = ContactMethod.__table__()
        cursor = Transaction().connection.cursor()
        compacts = defaultdict(set)
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*method.select(
                    method.prospect, method.value_compact,
                    where=fields.SQL_OPERATORS['in'](
                        method.prospect, sub_ids)))
            for prospect_id, compact in cursor:
                compacts[prospect_id].add(compact)
        return compacts

    def create_contacts(self, targets):
        "Create the contact methods the targets gathered, in one call"
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        methods = []
        for target in targets:
            methods.extend(
                dict(v, prospect=target.id) for v in target.contacts)
            target.contacts = []
        if methods:
            ContactMethod.create(methods)

    def create_lines(self, lines):
        """Insert the lines of the rows in SQL, in one query: they are the
        import's own record of what it did, which nothing else creates,
        and their creation by the ORM (defaults, checks, reading them
        back) took a tenth of the time of an import"""
        pool = Pool()
        Line = pool.get('sale.prospect.import.line')
        line = Line.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        if not lines:
            return
        columns = [
            line.create_uid, line.create_date, line.prospect_import,
            line.row, line.name, line.status, line.message, line.prospect]
        values = [
            [transaction.user, CurrentTimestamp(), self.import_.id,
                row.number, row.name, status, message,
                target.id if target else None]
            for row, status, target, message in lines]
        ids = transaction.database.nextid(
            transaction.connection, Line._table, count=len(values))
        if ids is not None:
            if len(values) == 1:
                ids = [ids]
            columns.append(line.id)
            for value, id_ in zip(values, ids):
                value.append(id_)
        for sub_values in grouped_slice(
                values, backend.MAX_QUERY_PARAMS // len(columns)):
            cursor.execute(*line.insert(columns, list(sub_values)))


def add_lines(text, lines):
    "Return the text with the lines it does not contain yet added"
    text = text or ''
    for line in lines:
        if line and line not in text:
            text = text + '\n' + line if text else line
    return text or None
