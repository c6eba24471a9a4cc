# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"Helpers shared by the models of the module"
import copy
from collections import defaultdict
from functools import partial, wraps

from trytond import backend
from trytond.i18n import gettext
from trytond.ir.resource import ResourceAccessMixin
from trytond.model import fields
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, check_access

from .exceptions import ClientValueError

# The interest levels of a call, in increasing order: reports compare them
NO_ANSWER, NOT_INTERESTED, MEDIUM_INTEREST, HIGH_INTEREST = '0', '1', '2', '3'
INTERESTS = [
    (None, ""),
    (NO_ANSWER, "No answer"),
    (NOT_INTERESTED, "Not interested"),
    (MEDIUM_INTEREST, "Medium interest: send more information"),
    (HIGH_INTEREST, "High interest: generate a sale"),
    ]


def check_record_rules(Model, records):
    """Raise the error of the record rules when the user may not read the
    records, before any message names them"""
    with check_access():
        Model.read([r.id for r in records], ['id'])


def read_joined(table, other, condition, records, columns, names):
    """Return {name: {id: value}} of the columns, of the other table joined
    on the condition, for the records of the table, a query per batch"""
    cursor = Transaction().connection.cursor()
    ids = list(map(int, records))
    result = {n: dict.fromkeys(ids) for n in names}
    for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
        cursor.execute(*table.join(other, condition=condition).select(
                table.id, *(columns[n] for n in names),
                where=fields.SQL_OPERATORS['in'](table.id, sub_ids)))
        for id_, *values in cursor:
            for name, value in zip(names, values):
                result[name][id_] = value
    return result


def module_id(xml_id):
    "Return the id of the record of the module with the XML id"
    ModelData = Pool().get('ir.model.data')
    return ModelData.get_id('sale_opportunity_management', xml_id)


def in_group(xml_id):
    "Tell whether the current user is in the group of the module"
    User = Pool().get('res.user')
    return module_id(xml_id) in User.get_groups()


def is_prospect_admin():
    "Tell whether the current user administers prospects"
    return not Transaction().user or in_group('group_prospect_admin')


def remove_client_writes(cls):
    "Remove the RPC methods by which a client would store records of cls"
    for method in ['create', 'write', 'delete', 'copy', 'import_data']:
        cls.__rpc__.pop(method, None)


def any_field_domain(clause, names):
    """Return the domain of the clause on any of the fields, or on all of
    them for a negative operator"""
    operator = clause[1]
    negative = operator.startswith('!') or operator.startswith('not ')
    return ['AND' if negative else 'OR'] + [
        (name,) + tuple(clause[1:]) for name in names]


class RecordAccessMixin:
    """Guard the doors of the model that trytond leaves open to clients.

    Every RPC method that instantiates records (buttons, copy, export,
    resources, on_change…) checks the record rules, which trytond checks on
    read, search, write and delete only: the records must be readable
    (writable for the methods that write, deletable for delete), and so
    must the records their values reach, so that an on_change never reads
    a record the user may not.

    The fields of _client_readonly are changed by the buttons, the wizards
    or as derived values, never by a client's create or write."""
    __slots__ = ()
    _client_readonly = set()

    @classmethod
    def __post_setup__(cls):
        super().__post_setup__()
        for name, rpc in list(cls.__rpc__.items()):
            if name in {'create', 'write'}:
                check = getattr(cls, f'_check_client_{name}')
            elif rpc.instantiate == 0 and rpc.check_access:
                mode = {'copy': 'read', 'delete': 'delete'}.get(
                    name, 'read' if rpc.readonly else 'write')
                check = partial(check_instances, mode=mode)
            else:
                continue
            rpc = copy.copy(rpc)
            rpc.decorator = _checking(rpc.decorator, check)
            cls.__rpc__[name] = rpc

    @classmethod
    def _check_client_create(cls, vlist):
        defaults = cls.default_get(
            list(cls._client_readonly), with_rec_name=False)
        for values in vlist:
            cls.check_client_values(None, {
                    n: v for n, v in values.items()
                    if v != defaults.get(n)})
            check_values(cls, values)

    @classmethod
    def _check_client_write(cls, *args):
        actions = iter(args)
        for records, values in zip(actions, actions):
            cls.check_client_values(records, values)
            check_values(cls, values)

    @classmethod
    def check_client_values(cls, records, values):
        """Refuse the values a client may not give to the records (None on
        creation)"""
        names = cls._client_readonly & values.keys()
        if names:
            raise ClientValueError(gettext(
                    'sale_opportunity_management.msg_client_readonly_field',
                    fields=', '.join(sorted(
                            cls._fields[n].string for n in names)),
                    model=cls.__names__()['model']))


def _checking(decorator, check):
    "Return a decorator of RPC calls that checks the arguments first"
    def decorate(func):
        if decorator:
            func = decorator(func)

        @wraps(func)
        def wrapper(*args, **kwargs):
            if Transaction().user:
                check(*args)
            return func(*args, **kwargs)
        return wrapper
    return decorate


def check_instances(records, *args, mode='read'):
    """Check the access of the user to the records (mode) and to the
    records their values reach (read)"""
    transaction = Transaction()
    if not transaction.user or not transaction.check_access:
        return
    if not isinstance(records, (list, tuple)):
        records = [records]
    to_check = defaultdict(set)
    for record in records:
        if record.id is not None and record.id >= 0:
            to_check[record.__name__, mode].add(record.id)
        _reached(record, to_check, set())
    _check(to_check)


def _check(to_check):
    "Check the access to the ids of {(model, mode): ids}"
    pool = Pool()
    Rule = pool.get('ir.rule')
    ModelAccess = pool.get('ir.model.access')
    for (model, mode), ids in to_check.items():
        Model = pool.get(model)
        ModelAccess.check(model, mode='read')
        Rule.check(model, list(ids), mode=mode)
        if issubclass(Model, ResourceAccessMixin):
            Model.check_access(list(ids), mode=mode)


def check_values(Model, values):
    """Check the access to the records that the values of a client's create
    or write reach: read for a link, write for the One2Many lines taken
    from another record"""
    to_check = defaultdict(set)
    _values_reach(Model, values, to_check)
    _check(to_check)


def _values_reach(Model, values, to_check):
    for name, value in values.items():
        field = Model._fields.get(name)
        if not isinstance(field, (
                    fields.Many2One, fields.One2Many, fields.Many2Many)):
            continue
        Target = field.get_target()
        if isinstance(field, fields.Many2One):
            if isinstance(value, int) and value >= 0:
                to_check[Target.__name__, 'read'].add(value)
            continue
        taken = 'write' if isinstance(field, fields.One2Many) else 'read'
        for action, *args in value or []:
            if action == 'create':
                for target_values in args[0]:
                    _values_reach(Target, target_values, to_check)
                continue
            modes = {'add': taken, 'remove': taken, 'copy': 'read',
                'write': 'write', 'delete': 'delete'}
            ids = args[0] if action != 'write' else [
                i for ids in args[::2] for i in ids]
            to_check[Target.__name__, modes[action]].update(
                i for i in ids if i >= 0)
            if action == 'write':
                for target_values in args[1::2]:
                    _values_reach(Target, target_values, to_check)


def _reached(record, to_check, seen):
    "Collect the records the values of the record (from a client) reach"
    if id(record) in seen or record._values is None:
        return
    seen.add(id(record))
    for name, value in record._values._items():
        field = record._fields.get(name)
        if isinstance(field, (fields.Many2One, fields.Reference)):
            targets = [value]
        elif isinstance(field, (fields.One2Many, fields.Many2Many)):
            targets = value or []
        else:
            continue
        for target in targets:
            if not hasattr(target, '__name__') or not hasattr(target, 'id'):
                continue
            if target.id is not None and target.id >= 0:
                to_check[target.__name__, 'read'].add(target.id)
            _reached(target, to_check, seen)
