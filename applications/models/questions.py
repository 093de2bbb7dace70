"""The candidate's answers to the complementary questions (``offers.Question``, ecandidat-features §1.8)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.enums import PieceStatus
from applications.models.candidature import Application

ANSWER_MAX_LENGTH = 1000


class QuestionAnswer(models.Model):
    """A candidate's answer to one question: its text (a Yes/No question stores ``O`` or ``N``), or "Non concerné"
    for a conditional question. A question without a row, or with an empty row, is waiting (``AT``).

    As ``PieceSubmission``: the answer of one application, or, for a common question that is not "unique"
    (``applications.questions.is_shared_question``), the candidate's one answer shared by all of their applications
    (``application`` empty). ``candidate`` is always set.
    """

    # CASCADE, not the pieces' PROTECT: an answer holds no file to remove from storage first, so it is a pure child
    # of the dossier, like its form answers and cursus (the campaign destruction deletes candidates without them).
    candidate = models.ForeignKey(
        "applications.Candidate",
        verbose_name=_("candidate"),
        on_delete=models.CASCADE,
        related_name="question_answers",
    )
    application = models.ForeignKey(
        Application,
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="question_answers",
        help_text=_("Empty for a common question answered once for all the candidate's applications."),
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
            models.UniqueConstraint(
                fields=["application", "question"],
                condition=Q(application__isnull=False),
                name="question_answer_once_per_application",
            ),
            models.UniqueConstraint(
                fields=["candidate", "question"],
                condition=Q(application__isnull=True),
                name="question_answer_shared_once_per_candidate",
            ),
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
