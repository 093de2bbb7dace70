"""The candidates' accounts of the active campaign ("Comptes candidats", eCandidat's "Chercher candidat" on accounts,
ecandidat-features §2.2), read-only, for the central office and the candidates managers (GCA, GCAL); anyone else
gets a 404. The list holds every account, also one whose état civil is not filled in yet (no dossier, so not in
"Candidats"): the candidate who calls because the mail never came, the address was mistyped or the numéro de
dossier is lost. It is searched by numéro de dossier, names as typed at signup and e-mail address, and filtered on
a validated address and on a dossier.

From an account, the central office and GCA resend the link that validates the address while it is not validated
(allauth's limit on these mails applies, ``confirm_email``, the candidate's own requests included), and, for an
account without a dossier, change its address (``account_email``; with a dossier, the dossier's page does it).
They also remove the second factor of a candidate who lost both their phone and their recovery codes (the password
reset keeps it, and nobody else can remove it: « Seconds facteurs du personnel » lists staff only); the account's
page and the list say whether the account has one. Each is written to the account's history with its author. No
deletion, no password here."""

from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Exists, F, OuterRef
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.models import CandidateAccount
from accounts.services import remove_candidate_second_factor, resend_email_validation
from applications.admin.account_email import account_email_urls, may_change_account_email
from applications.admin.on_behalf import may_create_candidate_accounts
from applications.admin.previous_addresses import SearchesPreviousAddresses
from ecandidat.admin_base import bound_view
from ecandidat.exceptions import BusinessRuleError
from ecandidat.staff import scope_of


def may_read_accounts(user) -> bool:
    scope = scope_of(user)
    return scope.is_central or scope.reads_all_candidates


def may_remove_second_factor(user) -> bool:
    """Who removes a candidate's second factor: whoever does the account's other operations here, the central office
    and the candidates managers with write access (GCA, ``may_change_account_email``); not the read-only role, never
    a centre's or a commission's staff."""
    return may_change_account_email(user)


class EmailValidatedFilter(admin.SimpleListFilter):
    title = _("e-mail address validated")
    parameter_name = "validated"

    def lookups(self, request, model_admin):
        return [("yes", _("Validated")), ("no", _("Not validated"))]

    def queryset(self, request, queryset):
        if self.value() in {"yes", "no"}:
            return queryset.filter(email_validated=self.value() == "yes")
        return queryset


class DossierFilter(admin.SimpleListFilter):
    title = _("dossier")
    parameter_name = "dossier"

    def lookups(self, request, model_admin):
        return [("yes", _("With a dossier")), ("no", _("Without a dossier"))]

    def queryset(self, request, queryset):
        if self.value() in {"yes", "no"}:
            return queryset.filter(candidate__isnull=self.value() == "no")
        return queryset


@admin.register(CandidateAccount)
class CandidateAccountAdmin(SearchesPreviousAddresses, admin.ModelAdmin):
    list_display = [
        "numero",
        "last_name",
        "first_name",
        "email",
        "email_is_validated",
        "has_second_factor",
        "date_joined",
        "last_login",
        "dossier",
    ]
    list_display_links = ["numero"]
    list_filter = [EmailValidatedFilter, DossierFilter]
    account_path = "pk"  # the row is the account (SearchesPreviousAddresses)
    search_fields = [  # names case and accents aside (ecandidat.lookups)
        "username",
        "last_name__accents_icontains",
        "first_name__accents_icontains",
        "email",
        "previous_email_addresses__email",
    ]
    fields = readonly_fields = (
        "numero",
        "last_name",
        "first_name",
        "email",
        "email_is_validated",
        "has_second_factor",
        "date_joined",
        "last_login",
        "dossier",
    )
    ordering = ["-date_joined", "-pk"]
    show_full_result_count = False

    def get_queryset(self, request):
        """The candidates' accounts of the active campaign, with whether the address is validated, whether the
        account has a second factor and the dossier's id (one query for a page of the list, or for the account's
        page)."""
        validated = EmailAddress.objects.filter(user=OuterRef("pk"), email__iexact=OuterRef("email"), verified=True)
        second_factor = Authenticator.objects.filter(user=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .filter(campaign__is_active=True)
            .annotate(
                email_validated=Exists(validated),
                second_factor=Exists(second_factor),
                dossier_id=F("candidate__id"),
            )
        )

    # Read-only, for the central office and the candidates managers; a 404 for everyone else (below).
    def has_module_permission(self, request):
        return may_read_accounts(request.user)

    def has_view_permission(self, request, obj=None):
        return may_read_accounts(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _readers_only(self, request) -> None:
        if not may_read_accounts(request.user):
            raise Http404

    def changelist_view(self, request, extra_context=None):
        self._readers_only(request)
        # « Créer un compte candidat »: the rule of the page it leads to (``on_behalf.may_create_candidate_accounts``).
        extra_context = {**(extra_context or {}), "may_create_accounts": may_create_candidate_accounts(request.user)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._readers_only(request)
        extra_context = {
            **(extra_context or {}),
            "may_change_account_email": may_change_account_email(request.user),
            "may_remove_second_factor": may_remove_second_factor(request.user),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._readers_only(request)
        return super().history_view(request, object_id, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        raise Http404  # accounts are created by the candidates (or on "Créer un compte" by the central office)

    def delete_view(self, request, object_id, extra_context=None):
        raise Http404  # deleting an account stays on the candidates' list (central office)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404  # not an account of the active campaign's candidates
        return obj

    def get_urls(self):
        resend = path(
            "<int:object_id>/lien-de-validation/",
            bound_view(self, resend_validation_view),
            name="accounts_candidateaccount_resend_validation",
        )
        second_factor = path(
            "<int:object_id>/second-facteur/",
            bound_view(self, remove_second_factor_view),
            name="accounts_candidateaccount_remove_second_factor",
        )
        return [resend, second_factor, *account_email_urls(self), *super().get_urls()]

    # The account's e-mail change (``account_email``): an account without a dossier (else the dossier's page).
    def email_change_queryset(self, request):
        return self.get_queryset(request).filter(candidate__isnull=True)

    def account_of(self, account: CandidateAccount) -> CandidateAccount:
        return account

    def account_summary(self, account: CandidateAccount) -> str:
        return f"{account.last_name} {account.first_name}".strip() or "—"

    @admin.display(description=_("dossier number"), ordering="username")
    def numero(self, account: CandidateAccount) -> str:
        return account.username

    @admin.display(description=_("e-mail address validated"), boolean=True)
    def email_is_validated(self, account) -> bool:  # annotated by get_queryset
        return account.email_validated

    @admin.display(description=_("second factor (authenticator app)"), boolean=True)
    def has_second_factor(self, account) -> bool:  # annotated by get_queryset
        return account.second_factor

    @admin.display(description=_("dossier"))
    def dossier(self, account) -> str:  # annotated by get_queryset
        if account.dossier_id is None:
            return gettext("None (personal details not filled in)")
        url = reverse("admin:applications_candidate_change", args=[account.dossier_id])
        return format_html('<a href="{}">{}</a>', url, gettext("Open the dossier"))


@require_POST
def resend_validation_view(request, object_id: int, *, model_admin):
    """Send the account's validation link again ("I never got the mail"): the central office and GCA, while the
    address is not validated; as often as allauth lets the candidate ask for it (``confirm_email``, by address)."""
    if not may_change_account_email(request.user):
        raise Http404
    account = get_object_or_404(model_admin.get_queryset(request), pk=object_id)
    page = HttpResponseRedirect(reverse("admin:accounts_candidateaccount_change", args=[account.pk]))
    if account.email_validated:
        messages.info(request, gettext("The address of this account is already validated."))
        return page
    if not ratelimit.consume(request, action="confirm_email", key=account.email.lower()):
        messages.error(
            request,
            gettext(
                "A validation link was sent to this address several times in the last minutes: ask the candidate to "
                "look in their spam folder, or try again later."
            ),
        )
        return page
    try:
        email = resend_email_validation(user=account, actor=request.user)
    except BusinessRuleError as error:
        messages.error(request, str(error))
        return page
    with translation.override(settings.LANGUAGE_CODE):
        model_admin.log_change(request, account, gettext("Validation link sent again to %(email)s") % {"email": email})
    messages.success(request, gettext("The validation link was sent again to %(email)s.") % {"email": email})
    return page


@require_POST
def remove_second_factor_view(request, object_id: int, *, model_admin):
    """Remove the second factor of a candidate who lost their phone and their recovery codes (the password reset keeps
    it): the central office and GCA (``may_remove_second_factor``); the service records it in the account's history.
    The candidate then logs in with their password alone and may activate a new app."""
    if not may_remove_second_factor(request.user):
        raise Http404
    account = get_object_or_404(model_admin.get_queryset(request), pk=object_id)
    page = HttpResponseRedirect(reverse("admin:accounts_candidateaccount_change", args=[account.pk]))
    try:
        removed = remove_candidate_second_factor(user=account, actor=request.user)
    except BusinessRuleError as error:
        messages.error(request, str(error))
        return page
    if not removed:  # none left (a double submit, or another member of staff was first)
        messages.info(request, gettext("This account has no second factor: nothing was removed."))
        return page
    messages.success(
        request,
        gettext(
            "The second factor of this account was removed: the candidate logs in with their password alone, and may "
            "activate a new authenticator app from their account."
        ),
    )
    return page
