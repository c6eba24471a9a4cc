# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, check_access

from .common import RecordAccessMixin, check_instances

# The models whose record rules depend on the current user
USER_RULE_MODELS = {
    'sale.prospect', 'prospect.contact_method', 'sale.prospect_trace',
    'sale.call',
    'sale.call.report.operator', 'sale.call.report.operator.timeseries',
    'sale.prospect_trace.report.interest',
    'sale.prospect_trace.report.pending',
    'sale.prospect.report.assignment', 'sale.call.report.high_interest',
    'sale.prospect.report.funnel', 'sale.call.target',
    'sale.call.report.target',
    }


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.domain.help += (
            '\n- "user_id" as the id of the current user')

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        context['user_id'] = Transaction().user
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        # Rule domains are cached per set of groups: those using "user_id"
        # must also be cached per user
        if USER_RULE_MODELS & set(model_names):
            key = (*key, Transaction().user)
        return key


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('sale.prospect|recycle_lost', "Recycle Lost Prospects"))


class EmailTemplate(metaclass=PoolMeta):
    __name__ = 'ir.email.template'

    @classmethod
    def email_models(cls):
        return super().email_models() + [
            'sale.prospect', 'prospect.contact_method']

    @classmethod
    def _get_address(cls, record):
        pool = Pool()
        Prospect = pool.get('sale.prospect')
        ContactMethod = pool.get('prospect.contact_method')
        address = super()._get_address(record)
        if isinstance(record, Prospect):
            mails = [m for m in record.contact_methods
                if m.contact_type == 'mail']
            record = mails[0] if mails else None
        if (isinstance(record, ContactMethod)
                and record.contact_type == 'mail'):
            address = (record.name or record.prospect.name, record.value)
        return address

    def get(self, record):
        check_resource(self.model.name, record)
        return super().get(record)

    @classmethod
    def get_default(cls, model, record):
        check_resource(model, record)
        return super().get_default(model, record)


class Email(metaclass=PoolMeta):
    __name__ = 'ir.email'

    @classmethod
    def send(cls, to='', cc='', bcc='', subject='', body='',
            files=None, record=None, reports=None, attachments=None):
        if record and Transaction().check_access:
            # As a note: who may change the record may write about it
            check_resource(*record, mode='write')
        return super().send(
            to=to, cc=cc, bcc=bcc, subject=subject, body=body, files=files,
            record=record, reports=reports, attachments=attachments)


class ChatChannel(metaclass=PoolMeta):
    __name__ = 'ir.chat.channel'

    @classmethod
    def check_access(cls, resource):
        super().check_access(resource)
        # trytond checks only the access to the model of the resource
        with check_access():
            check_resource(*str(resource).split(','))

    @classmethod
    def _check_write(cls, resource):
        with check_access():
            check_resource(*str(resource).split(','), mode='write')

    @classmethod
    def subscribe(cls, resource, username=None):
        cls._check_write(resource)
        return super().subscribe(resource, username=username)

    @classmethod
    def unsubscribe(cls, resource, username=None):
        cls._check_write(resource)
        return super().unsubscribe(resource, username=username)

    @classmethod
    def subscribe_email(cls, resource, email):
        cls._check_write(resource)
        return super().subscribe_email(resource, email)

    @classmethod
    def unsubscribe_email(cls, resource, email):
        cls._check_write(resource)
        return super().unsubscribe_email(resource, email)

    @classmethod
    def post(cls, resource, content, audience='internal'):
        cls._check_write(resource)
        return super().post(resource, content, audience=audience)


class Note(RecordAccessMixin, metaclass=PoolMeta):
    __name__ = 'ir.note'


class Attachment(RecordAccessMixin, metaclass=PoolMeta):
    __name__ = 'ir.attachment'


def check_resource(model, id_, mode='read'):
    "Check the access of the user to the record of the model"
    Model = Pool().get(model)
    check_instances([Model(int(id_))], mode=mode)
