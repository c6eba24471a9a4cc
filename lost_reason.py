# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"Why prospects are lost, the dates of their stages and their recycling"
import datetime as dt
import os
import re
import unicodedata
from xml.etree import ElementTree

import polib
from sql import Null
from sql.conditionals import Coalesce

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Workflow, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import file_open
from trytond.transaction import Transaction, check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .common import RecordAccessMixin, check_instances
from .exceptions import LifecycleError

MODULE = 'sale_opportunity_management'
LOSABLE = {'lead', 'qualified', 'agreement'}


def add_history(comment, line):
    "Return the comment with the line of history added at its end"
    comment = (comment or '').rstrip()
    return (comment + '\n' if comment else '') + line


def reason_key(text):
    "Return the text compared ignoring case, accents and punctuation"
    text = unicodedata.normalize('NFKD', text or '')
    text = ''.join(c for c in text if not unicodedata.combining(c))
    return ' '.join(re.sub(r'\W+', ' ', text.casefold()).split())


class LostReason(RecordAccessMixin, DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'sale.prospect.lost_reason'

    name = fields.Char("Name", required=True, translate=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def shipped(cls):
        """Return the {XML id: (name, names)} of the reasons the module
        ships: their name and their names in every translation"""
        with file_open(os.path.join(MODULE, 'lost_reason.xml'), 'rb') as fp:
            tree = ElementTree.parse(fp)
        reasons = {}
        for record in tree.iter('record'):
            if record.get('model') != cls.__name__:
                continue
            name = record.find("field[@name='name']").text
            reasons[record.get('id')] = (name, {name})
        locale = os.path.join(os.path.dirname(__file__), 'locale')
        prefix = 'model:%s,name:' % cls.__name__
        for filename in sorted(os.listdir(locale)):
            if not filename.endswith('.po'):
                continue
            for entry in polib.pofile(os.path.join(locale, filename)):
                if (entry.msgctxt or '').startswith(prefix) and entry.msgstr:
                    xml_id = entry.msgctxt[len(prefix):]
                    if xml_id in reasons:
                        reasons[xml_id][1].add(entry.msgstr)
        return reasons


class Prospect(metaclass=PoolMeta):
    __name__ = 'sale.prospect'

    lost_reason = fields.Many2One(
        'sale.prospect.lost_reason', "Reason for Loss", readonly=True,
        ondelete='RESTRICT',
        states={
            'invisible': Eval('stage') != 'lost',
            },
        help="Why the prospect was lost, given when it was marked as lost.")
    agreement_date = fields.Date(
        "Agreement Date", readonly=True,
        help="When the agreement was signed.")
    customer_date = fields.Date(
        "Customer Date", readonly=True,
        help="When the prospect became a customer.")
    lost_date = fields.Date(
        "Lost Date", readonly=True,
        states={
            'invisible': Eval('stage') != 'lost',
            },
        help="When the prospect was lost.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._client_readonly = cls._client_readonly | {
            'lost_reason', 'agreement_date', 'customer_date', 'lost_date'}
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(
                    t, (t.lost_date, Index.Range()),
                    where=t.stage == 'lost'),
                # The agreements of an operator in a period (targets)
                Index(
                    t, (t.assigned_operator, Index.Equality()),
                    (t.agreement_date, Index.Range()),
                    where=t.agreement_date != Null,
                    include=[t.business_unit, t.company, t.active]),
                })

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        # Migration from 8.0.0: the reason for loss was free text
        migrate = (table_h.column_exist('lost_reason')
            and not table_h.column_is_type('lost_reason', 'INTEGER'))
        if migrate:
            table_h.column_rename('lost_reason', '_temp_lost_reason')
        super().__register__(module)
        if migrate:
            cls._migrate_lost_reason(module)
            table_h = cls.__table_handler__(module)
            table_h.drop_column('_temp_lost_reason')

    @classmethod
    def _migrate_lost_reason(cls, module):
        """Link each free text reason to the reason of the same name (case,
        accents and punctuation ignored, in any language shipped), else add
        it to the comment; date the losses from the last change"""
        pool = Pool()
        LostReason = pool.get('sale.prospect.lost_reason')
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        shipped = LostReason.shipped()
        keys = cls._migrate_lost_reason_keys(module, shipped)
        cursor.execute(*table.select(
                table.id, table._temp_lost_reason, table.comment,
                where=(table._temp_lost_reason != Null)
                & (table._temp_lost_reason != '')))
        for id_, text, comment in cursor.fetchall():
            target = keys.get(reason_key(text))
            if isinstance(target, str):
                target = cls._migrate_shipped_lost_reason(
                    module, target, shipped[target], keys)
            if target:
                columns, values = [table.lost_reason], [target]
            else:
                columns, values = [table.comment], [add_history(
                        comment, gettext(
                            f'{MODULE}.msg_prospect_lost_reason_text',
                            reason=text))]
            cursor.execute(*table.update(
                    columns, values, where=table.id == id_))
        cls._migrate_lost_date()

    @classmethod
    def _migrate_lost_reason_keys(cls, module, shipped):
        """Return the reason of each name's key: the id of a reason in the
        database, else the XML id of a shipped reason not created yet"""
        pool = Pool()
        LostReason = pool.get('sale.prospect.lost_reason')
        ModelData = pool.get('ir.model.data')
        cursor = Transaction().connection.cursor()
        reason = LostReason.__table__()
        keys = {}
        cursor.execute(*reason.select(reason.id, reason.name))
        for id_, name in cursor:
            keys.setdefault(reason_key(name), id_)
        for xml_id, (_, names) in shipped.items():
            data = ModelData.search([
                    ('module', '=', module),
                    ('fs_id', '=', xml_id),
                    ])
            target = data[0].db_id if data else xml_id
            for name in names:
                keys.setdefault(reason_key(name), target)
        return keys

    @classmethod
    def _migrate_shipped_lost_reason(cls, module, xml_id, shipped, keys):
        """Create the shipped reason as the XML file would, which then finds
        it; return its id, which the keys of its names now give"""
        pool = Pool()
        LostReason = pool.get('sale.prospect.lost_reason')
        ModelData = pool.get('ir.model.data')
        name, names = shipped
        record, = LostReason.create([{'name': name}])
        ModelData.create([{
                    'fs_id': xml_id,
                    'module': module,
                    'model': LostReason.__name__,
                    'db_id': record.id,
                    }])
        for name in names:
            keys[reason_key(name)] = record.id
        return record.id

    @classmethod
    def _migrate_lost_date(cls):
        "Date the losses without a date from the last change of the prospect"
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.update(
                [table.lost_date],
                [cls.lost_date.sql_cast(
                        Coalesce(table.write_date, table.create_date))],
                where=(table.stage == 'lost') & (table.lost_date == Null)))

    @classmethod
    def copy(cls, prospects, default=None):
        default = default.copy() if default is not None else {}
        for name in [
                'lost_reason', 'agreement_date', 'customer_date',
                'lost_date']:
            default.setdefault(name, None)
        return super().copy(prospects, default=default)

    @classmethod
    def _today(cls):
        return Pool().get('ir.date').today()

    @classmethod
    @ModelView.button
    @Workflow.transition('agreement')
    def sign_agreement(cls, prospects):
        super().sign_agreement(prospects)
        cls.write(prospects, {'agreement_date': cls._today()})

    @classmethod
    @ModelView.button
    @Workflow.transition('customer')
    def make_customer(cls, prospects):
        super().make_customer(prospects)
        cls.write(prospects, {'customer_date': cls._today()})

    @classmethod
    @ModelView.button_action(f'{MODULE}.wizard_prospect_lose')
    def lose(cls, prospects):
        "Ask why the prospects are lost"

    @classmethod
    @Workflow.transition('lost')
    def mark_lost(cls, prospects, reason, comment=None):
        "Mark the prospects as lost for the reason, noted in the comment"
        today = cls._today()
        line = gettext(f'{MODULE}.msg_prospect_lost_history',
            date=today.isoformat(), reason=reason.name)
        if comment:
            line += ' ' + ' '.join(comment.split())
        to_write = []
        for prospect in prospects:
            to_write.extend(([prospect], {
                        'lost_reason': reason.id,
                        'lost_date': today,
                        'comment': add_history(prospect.comment, line),
                        }))
        if to_write:
            cls.write(*to_write)

    @classmethod
    @ModelView.button
    @Workflow.transition('qualified')
    def reopen(cls, prospects):
        super().reopen(prospects)
        cls._forget_loss(prospects, 'msg_prospect_reopened_history')

    @classmethod
    def _forget_loss(cls, prospects, message, values=None):
        """Clear the loss of the prospects, its reason and date kept in the
        comment"""
        today = cls._today()
        to_write = []
        for prospect in prospects:
            line = gettext(f'{MODULE}.{message}',
                date=today.isoformat(),
                lost_date=(prospect.lost_date.isoformat()
                    if prospect.lost_date else ''),
                reason=(prospect.lost_reason.name
                    if prospect.lost_reason else ''))
            to_write.extend(([prospect], {
                        **(values or {}),
                        'lost_reason': None,
                        'lost_date': None,
                        'comment': add_history(prospect.comment, line),
                        }))
        if to_write:
            cls.write(*to_write)

    @classmethod
    def recycle_lost(cls):
        """Put back to lead, unassigned, the prospects lost for longer than
        the configuration says, unless they asked not to be called"""
        pool = Pool()
        Configuration = pool.get('sale.prospect.configuration')
        after = Configuration(1).recycle_lost_after
        if not after or after <= dt.timedelta():
            return
        limit = (dt.datetime.combine(cls._today(), dt.time()) - after).date()
        prospects = cls.search([
                ('stage', '=', 'lost'),
                ('lost_date', '<', limit),
                ('do_not_call', '=', False),
                ], order=[('lost_date', 'ASC'), ('id', 'ASC')])
        cls.recycle(prospects)
        return prospects

    @classmethod
    def recycle(cls, prospects):
        "Put the lost prospects back to lead, unassigned"
        prospects = [p for p in prospects if p.stage == 'lost']
        cls._forget_loss(prospects, 'msg_prospect_recycled_history', {
                'stage': 'lead',
                'assigned_operator': None,
                })


class LoseStart(RecordAccessMixin, ModelView):
    __name__ = 'sale.prospect.lose.start'

    reason = fields.Many2One(
        'sale.prospect.lost_reason', "Reason", required=True)
    comment = fields.Text(
        "Comment", help="Added to the comment of the prospect.")


class Lose(Wizard):
    "Mark the prospects as lost, asking why"
    __name__ = 'sale.prospect.lose'

    start = StateView(
        'sale.prospect.lose.start',
        f'{MODULE}.prospect_lose_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Mark as Lost", 'lose', 'tryton-ok', default=True),
            ])
    lose = StateTransition()

    def transition_lose(self):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        prospects = list(self.records)
        # Wizards run without access checks: the user must be able to
        # change the prospects
        with check_access():
            check_instances(prospects, mode='write')
        for prospect in prospects:
            if prospect.stage not in LOSABLE:
                raise LifecycleError(gettext(
                        f'{MODULE}.msg_prospect_lose_stage',
                        prospect=prospect.rec_name))
        Prospect.mark_lost(prospects, self.start.reason, self.start.comment)
        return 'end'

    def end(self):
        return 'reload'
