# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"Merge of duplicate prospects into the one kept"
import datetime as dt
from collections import defaultdict

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .common import RecordAccessMixin, is_prospect_admin
from .exceptions import MergeError

# The fields of the prospect kept that the others fill when empty
FILLED_FIELDS = [
    'city', 'address', 'party', 'business_unit', 'comment', 'company',
    'assigned_operator',
    ]


class Prospect(metaclass=PoolMeta):
    __name__ = 'sale.prospect'

    merged_into = fields.Many2One(
        'sale.prospect', "Merged Into", readonly=True, ondelete='SET NULL',
        states={
            'invisible': ~Eval('merged_into'),
            },
        help="The prospect this one was merged into.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._client_readonly = cls._client_readonly | {'merged_into'}
        cls._buttons.update({
                'merge': {
                    'invisible': (~Bool(Eval('duplicates', []))
                        | ~Eval('active', False)),
                    'depends': ['duplicates', 'active'],
                    },
                })

    @classmethod
    def copy(cls, prospects, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('merged_into', None)
        return super().copy(prospects, default=default)

    @classmethod
    @ModelView.button_action(
        'sale_opportunity_management.wizard_prospect_merge')
    def merge(cls, prospects):
        pass

    @classmethod
    def merge_into(cls, prospects, target):
        """Move to the target what the prospects have, fill its empty
        fields, then deactivate the prospects; nothing is deleted"""
        prospects = [p for p in prospects if p != target]
        if not prospects:
            return
        with without_check_access(), Transaction().set_context(
                active_test=False):
            remap = cls._merge_contact_methods(prospects, target)
            cls._merge_traces(prospects, target, remap)
            cls._merge_resources(prospects, target)
            cls._merge_values(prospects, target)

    @classmethod
    def _merge_contact_methods(cls, prospects, target):
        """Move the contact methods whose value the target has not; return
        the methods left behind mapped to the target's of the same value"""
        pool = Pool()
        ContactMethod = pool.get('prospect.contact_method')
        kept = {}
        for method in ContactMethod.search([
                    ('prospect', '=', target.id),
                    ], order=[('active', 'DESC'), ('id', 'ASC')]):
            if method.value_compact:
                kept.setdefault(method.value_compact, method)
        moved, remap = [], {}
        for prospect in prospects:
            for method in ContactMethod.search([
                        ('prospect', '=', prospect.id),
                        ], order=[('active', 'DESC'), ('id', 'ASC')]):
                compact = method.value_compact
                if compact and compact in kept:
                    remap[method] = kept[compact]
                else:
                    moved.append(method)
                    if compact:
                        kept[compact] = method
        if moved:
            ContactMethod.write(moved, {'prospect': target.id})
        return remap

    @classmethod
    def _merge_traces(cls, prospects, target, remap):
        """Move the traces and their calls; an open trace of a business
        unit the target has an open trace for gives it its calls and is
        closed"""
        def contact(method):
            return remap.get(method, method) if method else None
        traces, to_empty = cls._traces_to_empty(prospects, target)
        cls._empty_traces(to_empty, contact)
        cls._move_traces(traces, target, remap, contact)

    @classmethod
    def _traces_to_empty(cls, prospects, target):
        """Return the traces of the prospects, and the open ones to empty
        into each open trace of the target for the same business unit"""
        Trace = Pool().get('sale.prospect_trace')
        open_traces = {t.business_unit: t for t in Trace.search([
                    ('prospect', '=', target.id),
                    ('state', '=', 'open'),
                    ])}
        traces = Trace.search([
                ('prospect', 'in', [p.id for p in prospects]),
                ], order=[('id', 'ASC')])
        to_empty = defaultdict(list)
        for trace in traces:
            if trace.state != 'open':
                continue
            into = open_traces.get(trace.business_unit)
            if into:
                to_empty[into].append(trace)
            else:
                open_traces[trace.business_unit] = trace
        return traces, to_empty

    @classmethod
    def _empty_traces(cls, to_empty, contact):
        "Move the calls of the traces into the open trace, and close them"
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        to_write, to_close = [], []
        for into, emptied in to_empty.items():
            for trace in emptied:
                for call in trace.calls:
                    method = contact(call.contact_method)
                    to_write.extend(([call], {
                                'prospect_trace': into.id,
                                'contact_method': (
                                    method.id if method else None),
                                }))
                if not into.next_call and trace.next_call:
                    into.next_call = trace.next_call
                    into.next_call_note = trace.next_call_note
                to_close.append(trace)
        if to_write:
            # Before the traces are closed: no call is moved off a closed
            # trace
            Call.write(*to_write)
        if to_close:
            Trace.close(to_close)
            Trace.save(list(to_empty))

    @classmethod
    def _move_traces(cls, traces, target, remap, contact):
        """Give the traces to the target, their contact and their calls'
        contact methods replaced by the target's"""
        pool = Pool()
        Trace = pool.get('sale.prospect_trace')
        Call = pool.get('sale.call')
        Trace.move_to_prospect(traces, target,
            {t: contact(t.prospect_contact) for t in traces})
        calls = Call.search([
                ('prospect_trace', 'in', [t.id for t in traces]),
                ('contact_method', 'in', [m.id for m in remap]),
                ])
        to_write = []
        for call in calls:
            to_write.extend(([call], {
                        'contact_method': contact(call.contact_method).id,
                        }))
        if to_write:
            Call.write(*to_write)

    @classmethod
    def _merge_resources(cls, prospects, target):
        "Move the notes, attachments, e-mails and chat messages"
        pool = Pool()
        resources = [str(p) for p in prospects]
        for name in ['ir.note', 'ir.attachment', 'ir.email']:
            Resource = pool.get(name)
            records = Resource.search([('resource', 'in', resources)])
            if records:
                Resource.write(records, {'resource': str(target)})
        cls._merge_chat(resources, target)

    @classmethod
    def _merge_chat(cls, resources, target):
        """Move the messages and the followers of the chat channels of the
        resources to the channel of the target, the first of them when it
        has none"""
        pool = Pool()
        Channel = pool.get('ir.chat.channel')
        Message = pool.get('ir.chat.message')
        channels = Channel.search([('resource', 'in', resources)])
        kept = Channel.search([('resource', '=', str(target))])
        if not kept and channels:
            kept = channels.pop(0)
            Channel.write([kept], {'resource': str(target)})
        elif kept:
            kept, = kept
        if not channels:
            return
        messages = Message.search([('channel', 'in', channels)])
        if messages:
            Message.write(messages, {'channel': kept.id})
        cls._merge_followers(channels, kept)

    @classmethod
    def _merge_followers(cls, channels, kept):
        "Move to the channel kept the followers it has not"
        Follower = Pool().get('ir.chat.follower')
        following = {(f.user, f.email) for f in Follower.search([
                    ('channel', '=', kept.id),
                    ])}
        followers = []
        for follower in Follower.search([('channel', 'in', channels)]):
            if (follower.user, follower.email) not in following:
                following.add((follower.user, follower.email))
                followers.append(follower)
        if followers:
            Follower.write(followers, {'channel': kept.id})

    @classmethod
    def _merge_values(cls, prospects, target):
        """Fill the empty fields of the target, give it the answers to the
        questions it has not answered and the categories, and the
        do-not-call mark; deactivate the prospects merged"""
        values = cls._filled_values(prospects, target)
        answers, categories = cls._release(prospects, target)
        if answers:
            values['answers'] = [('add', [a.id for a in answers])]
        if categories:
            values['categories'] = [('add', [c.id for c in categories])]
        if not target.active or target.merged_into:
            # The prospect kept lives on
            values['active'] = True
            values['merged_into'] = None
        if values:
            cls.write([target], values)
        since = cls._do_not_call_since(prospects, target)
        if since:
            # One of them asked not to be called: so did the prospect kept,
            # whose open traces are closed
            cls.mark_do_not_call([target])
            cls.write([target], {'do_not_call_date': since})

    @classmethod
    def _filled_values(cls, prospects, target):
        "Return the values of the prospects for the empty fields of target"
        values = {}
        for prospect in prospects:
            for name in FILLED_FIELDS:
                if (not getattr(target, name) and name not in values
                        and getattr(prospect, name)):
                    value = getattr(prospect, name)
                    values[name] = getattr(value, 'id', value)
            if not target.country and 'country' not in values:
                if prospect.country:
                    values['country'] = prospect.country.id
                    values['subdivision'] = (
                        prospect.subdivision.id if prospect.subdivision
                        else None)
            elif (not target.subdivision and 'subdivision' not in values
                    and prospect.subdivision
                    and prospect.subdivision.country == target.country):
                values['subdivision'] = prospect.subdivision.id
        return values

    @classmethod
    def _do_not_call_since(cls, prospects, target):
        """Return since when the first of the prospects asked not to be
        called, when the target did not"""
        if target.do_not_call:
            return
        dates = [p.do_not_call_date or dt.datetime.now().replace(microsecond=0)
            for p in prospects if p.do_not_call]
        if dates:
            return min(dates)

    @classmethod
    def _release(cls, prospects, target):
        """Deactivate the prospects merged into the target and take from
        them the answers to the questions it has not answered and the
        categories it has not; return those"""
        questions = {a.question for a in target.answers}
        categories = set(target.categories)
        answers, to_write = [], []
        for prospect in prospects:
            moved = [a for a in prospect.answers
                if a.question not in questions]
            questions.update(a.question for a in moved)
            answers.extend(moved)
            added = [c for c in prospect.categories if c not in categories]
            categories.update(added)
            to_write.extend(([prospect], {
                        'answers': [('remove', [a.id for a in moved])],
                        'categories': [
                            ('remove', [c.id for c in prospect.categories])],
                        'active': False,
                        'merged_into': target.id,
                        }))
        # The prospects merged earlier into those follow them
        merged_before = cls.search([
                ('merged_into', 'in', [p.id for p in prospects]),
                ('id', '!=', target.id),
                ])
        if merged_before:
            to_write.extend((merged_before, {'merged_into': target.id}))
        cls.write(*to_write)
        return answers, categories - set(target.categories)


class MergeStart(RecordAccessMixin, ModelView):
    __name__ = 'sale.prospect.merge.start'

    prospects = fields.Many2Many(
        'sale.prospect', None, None, "Prospects", required=True,
        help="The prospects to merge, the one to keep included.")
    target = fields.Many2One(
        'sale.prospect', "Keep", required=True,
        domain=[
            ('id', 'in', Eval('prospects', [])),
            ],
        help="The prospect that receives what the others have.")


class Merge(Wizard):
    __name__ = 'sale.prospect.merge'

    start = StateView(
        'sale.prospect.merge.start',
        'sale_opportunity_management.prospect_merge_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Merge", 'merge', 'tryton-ok', default=True),
            ])
    merge = StateTransition()

    def default_start(self, fields):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        context = Transaction().context
        if context.get('active_model') != Prospect.__name__:
            return {}
        ids = list(context.get('active_ids') or [])
        if len(ids) == 1:
            # From a prospect: it and its possible duplicates
            prospect = Prospect(ids[0])
            ids.extend(Prospect._duplicates([prospect])[prospect.id])
        values = {'prospects': ids}
        if ids:
            active_id = context.get('active_id')
            values['target'] = active_id if active_id in ids else ids[0]
        return values

    def transition_merge(self):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        if not is_prospect_admin():
            raise MergeError(gettext(
                    'sale_opportunity_management.msg_prospect_merge_admin'))
        target = self.start.target
        if target not in self.start.prospects:
            raise MergeError(gettext(
                    'sale_opportunity_management.msg_prospect_merge_target',
                    prospect=target.rec_name))
        Prospect.merge_into(list(self.start.prospects), target)
        return 'end'

    def end(self):
        return 'reload'

