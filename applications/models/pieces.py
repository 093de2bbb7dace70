"""The candidate's answer to each requested piece (ecandidat-features §1.7, §2.4).

A ``PieceSubmission`` is the state of one requested piece for a candidate: for one application, or shared by all
of the candidate's applications when the piece is common and not unique (``application`` is then empty). Its file
is a ``documents.Document`` (storage, validation and antivirus live in the ``documents`` layer below).
"""

import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from applications.enums import PieceStatus
from applications.models.candidature import Application

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


class PieceSubmissionQuerySet(models.QuerySet["PieceSubmission"]):
    def for_candidate_user(self, user: "AbstractBaseUser | AnonymousUser") -> "PieceSubmissionQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(candidate__user_id=user.pk)

    def visible_to(self, user: Any) -> "PieceSubmissionQuerySet":
        """The submissions staff may read: those of the applications they see (``Application.objects.visible_to``)
        and the candidate's shared pieces (no application) that one of those applications of the candidate asks for,
        as ``applications.pieces.applicable_piece_types`` says: an institution-wide common piece, a common piece of
        the formation's centre, one of the formation's own pieces. Another centre's shared piece of the candidate is
        not theirs. One query (subqueries)."""
        applications = Application.objects.visible_to(user)
        of_candidate = applications.filter(candidate_id=OuterRef("candidate_id"))
        shared_asked_for = (
            Q(
                piece_type__is_common=True,
                piece_type__centre__isnull=True,
                candidate_id__in=applications.values("candidate_id"),
            )
            | Q(
                Exists(of_candidate.filter(formation__centre_id=OuterRef("piece_type__centre_id"))),
                piece_type__is_common=True,
            )
            | Q(
                Exists(of_candidate.filter(formation__piece_types=OuterRef("piece_type_id"))),
                piece_type__is_common=False,
            )
        )
        return self.filter(
            Q(application_id__in=applications.values("pk")) | (Q(application__isnull=True) & shared_asked_for)
        )


class PieceSubmission(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    candidate = models.ForeignKey(
        "applications.Candidate", verbose_name=_("candidate"), on_delete=models.PROTECT, related_name="pieces"
    )
    piece_type = models.ForeignKey(
        "offers.PieceType", verbose_name=_("piece"), on_delete=models.PROTECT, related_name="submissions"
    )
    application = models.ForeignKey(
        "applications.Application",
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pieces",
        help_text=_("Empty for a common piece shared by all the candidate's applications."),
    )
    status = models.CharField(_("status"), max_length=2, choices=PieceStatus, default=PieceStatus.WAITING)
    document = models.OneToOneField(
        "documents.Document",
        verbose_name=_("file"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="submission",
    )
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    # Targeted correction (issue 13): staff may give a refused piece its own deadline. Until then the candidate may
    # replace it whatever the dossier status and the application's return deadline (applications.pieces).
    replace_by = models.DateField(_("to replace before"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("status changed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = PieceSubmissionQuerySet.as_manager()

    class Meta:
        verbose_name = _("submitted piece")
        verbose_name_plural = _("submitted pieces")
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "piece_type"],
                condition=Q(application__isnull=True),
                name="piece_shared_once_per_candidate",
            ),
            models.UniqueConstraint(
                fields=["application", "piece_type"],
                condition=Q(application__isnull=False),
                name="piece_once_per_application",
            ),
            # A file exists exactly when the candidate has sent one: waiting and "not concerned" pieces have none.
            # A refused piece keeps the file staff refused, or has none when the antivirus took it away (quarantine):
            # either way the candidate sends another (applications.services.pieces.take_off_quarantined_piece).
            models.CheckConstraint(
                condition=Q(status__in=["AT", "NC"], document__isnull=True)
                | Q(status__in=["TR", "VA"], document__isnull=False)
                | Q(status="RE"),
                name="piece_file_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(replace_by__isnull=True) | Q(status="RE"), name="piece_replace_by_only_when_refused"
            ),
        ]

    def __str__(self):
        return f"{self.piece_type_id} ({self.status})"
