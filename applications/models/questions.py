"""The candidate's answers to the complementary questions (``offers.Question``, ecandidat-features §1.8)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.enums import PieceStatus
from applications.models.candidature import Application

ANSWER_MAX_LENGTH = 1000


class QuestionAnswer(models.Model):
    """One application's answer to one question: its text (a Yes/No question stores ``O`` or ``N``), or "Non
    concerné" for a conditional question. A question without a row, or with an empty row, is waiting (``AT``)."""

    application = models.ForeignKey(
        Application, verbose_name=_("application"), on_delete=models.CASCADE, related_name="question_answers"
    )
    question = models.ForeignKey(
        "offers.Question", verbose_name=_("question"), on_delete=models.PROTECT, related_name="answers"
    )
    answer = models.TextField(_("answer"), max_length=ANSWER_MAX_LENGTH, blank=True)
    not_concerned = models.BooleanField(_("not concerned"), default=False)
    answered_at = models.DateTimeField(_("answered at"), auto_now=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("answered by"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("answer to a question")
        verbose_name_plural = _("answers to questions")
        constraints = [
            models.UniqueConstraint(fields=["application", "question"], name="question_answer_unique"),
            models.CheckConstraint(
                condition=Q(not_concerned=False) | Q(answer=""), name="question_answer_not_concerned_is_empty"
            ),
        ]

    def __str__(self):
        return f"{self.question_id} {self.application_id}"

    @property
    def status(self) -> PieceStatus:
        if self.not_concerned:
            return PieceStatus.NOT_CONCERNED
        return PieceStatus.SUBMITTED if self.answer else PieceStatus.WAITING
