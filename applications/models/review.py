"""The commission's workspace (ecandidat-features §2.3): internal notes ("bloc-notes") and tags on applications.

Notes are for the staff who see the application (``Application.objects.visible_to``), never for the candidate;
they are append-only rows with their author and date. Tags are global (central office) or belong to one centre,
carry a colour and can be taken out of service without losing the applications that carry them.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ecandidat.staff import scope_of
from offers.models import Commission

colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Give a colour as #RRGGBB."))


class ApplicationNote(models.Model):
    """One timestamped internal note on an application (eCandidat's "Bloc-notes")."""

    application = models.ForeignKey(
        "applications.Application", verbose_name=_("application"), on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(_("note"), max_length=2000)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.application_id}/{self.pk}"


class TagQuerySet(models.QuerySet["Tag"]):
    def usable_by(self, user) -> "TagQuerySet":
        """The tags a member of staff may put on applications: global ones and those of the centres they read."""
        scope = scope_of(user)
        if scope.is_central:
            return self
        if not scope.is_staff_member:
            return self.none()
        centres = set(scope.centres_read) | set(
            Commission.objects.filter(pk__in=scope.commissions).values_list("centre_id", flat=True)
        )
        return self.filter(Q(centre__isnull=True) | Q(centre_id__in=centres))

    def usable_on(self, application) -> "TagQuerySet":
        """Those that go on ``application``: global ones and its centre's
        (``applications.services.review._check_centre``)."""
        return self.filter(Q(centre__isnull=True) | Q(centre_id=application.formation.centre_id))

    def in_service(self) -> "TagQuerySet":
        return self.filter(in_service=True)


class Tag(models.Model):
    """A label with a colour, global (no centre) or of one centre (eCandidat's Tags, "en service" flag)."""

    label = models.CharField(_("label"), max_length=60)
    colour = models.CharField(_("colour"), max_length=7, default="#3c6e9f", validators=[colour_validator])
    centre = models.ForeignKey(
        "offers.Centre",
        verbose_name=_("centre"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tags",
        help_text=_("Empty: a global tag, offered to every centre."),
    )
    in_service = models.BooleanField(_("in service"), default=True)

    objects = TagQuerySet.as_manager()

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["label", "centre"], name="tag_label_unique_per_centre"),
            models.UniqueConstraint(
                fields=["label"], condition=Q(centre__isnull=True), name="tag_label_unique_global"
            ),
            models.CheckConstraint(condition=Q(colour__regex=r"^#[0-9a-fA-F]{6}$"), name="tag_colour_hex"),
        ]

    def __str__(self):
        return self.label


class ApplicationTag(models.Model):
    """A tag put on an application, with who put it and when."""

    application = models.ForeignKey(
        "applications.Application", verbose_name=_("application"), on_delete=models.CASCADE, related_name="tag_links"
    )
    tag = models.ForeignKey(Tag, verbose_name=_("tag"), on_delete=models.CASCADE, related_name="links")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("added by"), on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("application tag")
        verbose_name_plural = _("application tags")
        constraints = [models.UniqueConstraint(fields=["application", "tag"], name="application_tag_once")]

    def __str__(self):
        return f"{self.application_id}/{self.tag_id}"


class SavedFilter(models.Model):
    """A filtered and sorted applications list a member of staff saved under a name (eCandidat's grid
    preferences, ecandidat-features §2.3), for themselves only."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="saved_filters"
    )
    label = models.CharField(_("label"), max_length=80)
    query_string = models.CharField(_("filters"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        ordering = ["label", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "label"], name="saved_filter_label_per_user")]

    def __str__(self):
        return self.label
