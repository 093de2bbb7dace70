from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """Everyone who logs in: candidates (one account per campaign) and staff.

    For a candidate, ``username`` is the numéro de dossier (8 upper-case letters and digits), which is also the
    login. The e-mail address is unique within a campaign only: accounts are annual, and the same person
    registers again for the next campaign.
    """

    email = models.EmailField(_("email address"), max_length=254)
    campaign = models.ForeignKey(
        "offers.Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text=_("Set for candidates: their account belongs to this campaign. Empty for staff."),
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "campaign",
                name="user_email_unique_per_campaign",
                condition=models.Q(campaign__isnull=False),
                violation_error_message=_("An account already uses this e-mail address for this campaign."),
            ),
        ]

    @property
    def is_candidate(self) -> bool:
        return self.campaign_id is not None

    @property
    def numero_dossier(self) -> str:
        return self.username if self.is_candidate else ""
