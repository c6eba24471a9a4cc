# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from collections import defaultdict

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)

from .common import RecordAccessMixin, any_field_domain
from .exceptions import ProfileValidationError


class Question(
        RecordAccessMixin, DeactivableMixin, sequence_ordered(), ModelSQL,
        ModelView):
    __name__ = 'sale.prospect.question'

    name = fields.Char("Question", required=True, translate=True)
    answers = fields.One2Many(
        'sale.prospect.question.answer', 'question', "Answers")


class Answer(RecordAccessMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'sale.prospect.question.answer'

    question = fields.Many2One(
        'sale.prospect.question', "Question", required=True,
        ondelete='CASCADE')
    name = fields.Char("Answer", required=True, translate=True)

    def get_rec_name(self, name):
        return '%s: %s' % (self.question.rec_name, self.name)

    @classmethod
    def search_rec_name(cls, name, clause):
        return any_field_domain(clause, ['name', 'question.name'])


class ProspectAnswer(ModelSQL):
    __name__ = 'sale.prospect-sale.prospect.question.answer'

    prospect = fields.Many2One(
        'sale.prospect', "Prospect", required=True, ondelete='CASCADE')
    answer = fields.Many2One(
        'sale.prospect.question.answer', "Answer", required=True,
        ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('prospect')

    @classmethod
    def validate(cls, records):
        super().validate(records)
        for prospect in {r.prospect for r in records}:
            questions = defaultdict(list)
            for answer in prospect.answers:
                questions[answer.question].append(answer)
            for question, answers in questions.items():
                if len(answers) > 1:
                    raise ProfileValidationError(gettext(
                            'sale_opportunity_management'
                            '.msg_prospect_answer_unique',
                            prospect=prospect.rec_name,
                            question=question.rec_name))


class Segment(RecordAccessMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'sale.prospect.segment'

    name = fields.Char("Name", required=True, translate=True)
    answers = fields.Many2Many(
        'sale.prospect.segment-sale.prospect.question.answer',
        'segment', 'answer', "Answers",
        help="For each question among these answers, the prospect must "
        "have given one of them.")
    category = fields.Many2One(
        'party.category', "Category",
        help="The category set on the matching prospects.")
    business_unit = fields.Many2One(
        'sale.business_unit', "Business Unit",
        help="The business unit to offer to the matching prospects.")

    def match(self, prospect):
        "Tell whether the answers of the prospect match the segment"
        if not self.answers:
            return False
        expected = defaultdict(set)
        for answer in self.answers:
            expected[answer.question].add(answer)
        given = set(prospect.answers)
        return all(given & answers for answers in expected.values())


class SegmentAnswer(ModelSQL):
    __name__ = 'sale.prospect.segment-sale.prospect.question.answer'

    segment = fields.Many2One(
        'sale.prospect.segment', "Segment", required=True,
        ondelete='CASCADE')
    answer = fields.Many2One(
        'sale.prospect.question.answer', "Answer", required=True,
        ondelete='CASCADE')
