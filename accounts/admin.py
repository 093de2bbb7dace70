from typing import cast

from allauth.account.views import LogoutView
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AdminPasswordChangeForm as DjangoAdminPasswordChangeForm
from django.contrib.auth.forms import SetUnusablePasswordMixin
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models.fields import BLANK_CHOICE_LABEL
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import services, staff_access, staff_enrolment
from accounts.admin_directory import may_add_from_directory, staff_from_directory_view
from accounts.admin_framework import PermissionLabels
from accounts.directory import directory_spelling
from accounts.models import (
    INSTITUTION_ROLES,
    AccountDeletion,
    StaffEnrolmentToken,
    StaffMembership,
    StaffRole,
    User,
)
from ecandidat.admin_base import (
    AccountAsText,
    CentralOfficeOnly,
    InStaffScope,
    NotFoundOutsideScope,
    ReadOnly,
    bound_view,
)
from ecandidat.exceptions import BusinessRuleError
from ecandidat.staff import is_central, scope_of
from offers.models import Commission


def _codes_page(model_admin: admin.ModelAdmin, request, issued: list) -> TemplateResponse:
    """The codes just issued, shown once (never stored in clear, never put in a message cookie): the central office
    hands each one over in person or by phone."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Enrolment codes"),
        "issued": issued,
        "validity_days": staff_enrolment.CODE_VALIDITY.days,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "accounts/admin_enrolment_codes.html", context)


class UserChangeForm(DjangoUserChangeForm):
    """Django's form, the address written as the directory's are (``directory_spelling``): an internationalised
    domain typed in its ASCII form (``xn--…``) or with full-width letters is stored as the mailbox it reaches, so a
    login or a reset by address, which looks it up in that form, finds the account."""

    def clean_email(self) -> str:
        email = self.cleaned_data.get("email", "")
        return directory_spelling(email) if email else email


class AdminPasswordChangeForm(DjangoAdminPasswordChangeForm):
    """Django's form, its warning translated: Django 6.1 appends « If disabled, the current password for this user
    will be lost. » to the help text as a plain string, never passed to gettext, so the French page « Modifier le mot
    de passe » showed it in English. Both parts stay lazy: read in the language of the request."""

    usable_password_help_text = cast(  # lazy, a str once rendered (Django's stubs type the attribute ``str``)
        str,
        format_lazy(
            '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}</li></ul>',
            SetUnusablePasswordMixin.usable_password_help_text,
            _("If disabled, the current password for this user will be lost."),
        ),
    )


@admin.register(User)
class UserAdmin(PermissionLabels, DjangoUserAdmin):
    form = UserChangeForm
    change_password_form = AdminPasswordChangeForm
    list_display = ["username", "email", "last_name", "first_name", "campaign", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_active", "from_directory", "campaign"]
    list_select_related = ["campaign"]
    show_full_result_count = False
    # ``from_directory`` is set by the directory (never typed): shown read-only, with its help text, because the
    # nightly refresh deactivates such an account when its owner leaves the directory (accounts.directory_refresh).
    fieldsets = [
        *(DjangoUserAdmin.fieldsets or ()),
        (None, {"fields": ["campaign", "student_number", "from_directory"]}),
    ]
    readonly_fields = ["from_directory"]
    search_fields = [  # names case and accents aside (ecandidat.lookups)
        "username",
        "email",
        "last_name__accents_icontains",
        "first_name__accents_icontains",
        "student_number",
    ]
    actions = ["issue_enrolment_codes"]

    def get_urls(self):
        view = bound_view(self, staff_from_directory_view)
        return [path("from-directory/", view, name="accounts_user_from_directory"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_add_from_directory": may_add_from_directory(request.user)}
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        """Django's save, then a staff account's address (``is_staff``, no campaign) recorded as its verified,
        primary address, as the directory records the addresses it gives (``services.record_staff_address``): the
        central office typed it, and without a directory (``LDAP_URL`` empty) this page is the only way to create a
        staff account. Without this, its owner's first login mailed a candidate's validation link and stopped on
        /accounts/confirm-email/. A changed address replaces the one verified before; a candidate's account (a
        campaign) is left to its owner's validation."""
        super().save_model(request, obj, form, change)
        if obj.is_staff and obj.campaign_id is None:
            services.record_staff_address(user=obj, actor=request.user)

    def has_issue_enrolment_code_permission(self, request) -> bool:
        return staff_enrolment.may_issue_enrolment_code(request.user)

    @admin.action(
        description=_("Issue an enrolment code (first authenticator app)"), permissions=["issue_enrolment_code"]
    )
    def issue_enrolment_codes(self, request, queryset):
        """One single-use code per selected staff member, shown once on the page that follows."""
        issued, refused = [], []
        for user in queryset.order_by("username"):
            try:
                issued.append((user, staff_enrolment.issue_enrolment_code(user=user, actor=request.user)))
            except BusinessRuleError as error:
                refused.append((user, str(error)))
        for user, reason in refused:
            self.message_user(
                request, gettext("%(label)s: %(error)s") % {"label": user, "error": reason}, messages.ERROR
            )
        if not issued:
            return None
        return _codes_page(self, request, issued)


class IssueEnrolmentCodeForm(forms.Form):
    """The staff member to issue a code for: the active staff accounts, superusers only for a superuser
    (``staff_enrolment.issue_enrolment_code``'s rule)."""

    user = forms.ModelChoiceField(label=_("staff member"), queryset=User.objects.none())

    def __init__(self, *args, actor: User, **kwargs):
        super().__init__(*args, **kwargs)
        staff = User.objects.filter(is_staff=True, is_active=True).order_by("last_name", "first_name", "username")
        field = self.fields["user"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = staff if actor.is_superuser else staff.exclude(is_superuser=True)


class CentreCommissionsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.centre} — {obj}"


class StaffUserField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        name = f"{obj.last_name.upper()} {obj.first_name}".strip()
        return f"{name} ({obj.username})" if name else obj.username


class StaffMembershipForm(forms.ModelForm):
    """The membership, with eCandidat's choice for a centre manager or read-only member: every commission of the
    centre, or the ones chosen (``tem_all_comm_gest``). The chosen commissions must be the centre's: each refusal
    is said next to the field that caused it.

    The staff member is chosen in a list of the staff accounts (a plain drop-down: the central office and the
    centres' managers may not open the accounts' list that a lookup pop-up would show)."""

    class Meta:
        model = StaffMembership
        fields = ["user", "role", "centre", "commission", "all_commissions", "commissions"]

    user = StaffUserField(
        label=capfirst(_("staff member")),
        queryset=User.objects.filter(is_staff=True).order_by("last_name", "first_name", "username"),
        help_text=_(
            "Staff accounts only: the central office first adds a new colleague, from the directory when one is "
            "configured, otherwise in “Users” (“Staff status” ticked and an e-mail address)."
        ),
    )

    commissions = CentreCommissionsField(
        label=capfirst(_("commissions of the centre")),
        queryset=Commission.objects.select_related("centre").order_by("centre__label", "label"),
        required=False,
        help_text=_("Only when the membership does not cover every commission of the centre."),
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if "all_commissions" not in self.fields:  # a centre's manager adds commission members only
            # The form has no centre field here, so Django leaves out the model's check of the role's scope, which
            # names the centre: without this the database refused the row (a server error).
            if data.get("role") == StaffRole.COMMISSION_MEMBER and data.get("commission") is None:
                self.add_error("commission", _("A commission member belongs to a commission: choose it."))
            return data
        role, centre = data.get("role"), data.get("centre")
        every, chosen = data.get("all_commissions"), list(data.get("commissions") or [])
        limited_roles = (StaffRole.CENTRE_MANAGER, StaffRole.READ_ONLY)
        if role in INSTITUTION_ROLES:  # the whole institution: every field naming a centre or a commission stays empty
            for name in ("centre", "commission"):
                if data.get(name) is not None:
                    self.add_error(
                        name, _("This role covers the whole institution: leave the centre and the commission empty.")
                    )
        if not every and role not in limited_roles:
            self.add_error(
                "all_commissions",
                _("Only a centre manager or a read-only member may be limited to some commissions of the centre."),
            )
        elif every and chosen:
            self.add_error(
                "commissions",
                _("Untick “every commission of the centre” to limit the membership to these commissions."),
            )
        elif not every and not chosen:
            self.add_error("commissions", _("Choose at least one commission of the centre."))
        elif not every and centre is not None:
            others = [str(commission) for commission in chosen if commission.centre_id != centre.pk]
            if others:
                self.add_error(
                    "commissions",
                    _("Not a commission of the centre %(centre)s: %(commissions)s.")
                    % {"centre": centre, "commissions": ", ".join(others)},
                )
        return data


@admin.register(StaffMembership)
class StaffMembershipAdmin(AccountAsText, InStaffScope, NotFoundOutsideScope, admin.ModelAdmin):
    """Staff rights: central office (no centre nor commission), centre manager or read-only member of a centre (of
    every commission, or of some), commission member (reads, enters decisions), candidates manager, or read only
    (no centre nor commission: every candidate's dossier, none of the applications' handling). The back office
    scopes every list and action from these rows.

    Who sets them (eCandidat §2.2: the scolarité centrale sets the centres and their gestionnaires; a centre's
    commissions and their members are set from the centre):

    - the central office: every membership (the candidates managers' too), except the central office's own, which
      only a superuser grants, changes or removes (no one widens their own kind of rights);
    - a manager of a whole centre: reads the memberships of the centre (``StaffMembership.objects.visible_to``),
      adds, changes and removes the members of its commissions; the managers' and readers' rows stay read-only;
    - anyone else: not the page (403), and a row outside one's list is not found (404).

    Every addition, change and removal is in the row's history (Django's log: who, when, what) in words.
    """

    form = StaffMembershipForm
    list_display = ["user", "rights", "centre", "commission", "created_at"]
    list_filter = ["role", "centre"]
    list_select_related = ["user", "centre", "commission"]
    # Plain drop-downs for the centre and the commission (Django's autocompletes need JavaScript and their
    # comboboxes have no accessible name).
    search_fields = ["user__username", "user__last_name", "user__email"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("commissions")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_add_from_directory": may_add_from_directory(request.user)}
        return super().changelist_view(request, extra_context)

    @staticmethod
    def _sets_memberships(request) -> bool:
        scope = scope_of(request.user)
        return scope.is_central or bool(scope.managed_centres)

    def has_module_permission(self, request):
        return self._sets_memberships(request)

    def has_view_permission(self, request, obj=None):
        return self._sets_memberships(request)

    def has_add_permission(self, request):
        return self._sets_memberships(request)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return self._sets_memberships(request)
        if obj.role == StaffRole.CENTRAL:
            return request.user.is_superuser
        scope = scope_of(request.user)
        if scope.is_central:
            return True
        # A row of the list (its commission is one of the managed centres'): commission members only.
        return obj.role == StaffRole.COMMISSION_MEMBER

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if scope_of(request.user).is_central:
            return fields
        return [name for name in fields if name in ("user", "account", "role", "commission")]

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        """Django's bulk deletion asks for the permission without the rows: only superusers keep it (the others
        delete one row at a time, each row's rule applying)."""
        actions = super().get_actions(request, action_location=action_location)
        if not request.user.is_superuser:
            actions.pop("delete_selected", None)
        return actions

    def get_list_filter(self, request):
        # A centre's manager sees one centre's staff: a filter naming every centre would only lead to empty lists.
        return self.list_filter if scope_of(request.user).is_central else ["role"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if not scope_of(request.user).is_central:
            form.base_fields.pop("commissions", None)  # declared on the form: not left out by get_fields
        return form

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            scope = scope_of(request.user)
            if not scope.is_central:
                kwargs["choices"] = [(StaffRole.COMMISSION_MEMBER.value, StaffRole.COMMISSION_MEMBER.label)]
            elif not request.user.is_superuser:
                kwargs["choices"] = [("", BLANK_CHOICE_LABEL)] + [
                    (role.value, role.label) for role in StaffRole if role != StaffRole.CENTRAL
                ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scope = scope_of(request.user)
        if db_field.name == "commission" and not scope.is_central:
            kwargs["queryset"] = (
                Commission.objects.filter(centre__in=scope.managed_centres)
                .select_related("centre")
                .order_by("centre__label", "label")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("rights"), ordering="role")
    def rights(self, obj):
        """The role, and the commissions of a membership limited to some ("Gestionnaire (commissions : X, Y)")."""
        if obj.all_commissions:
            return obj.get_role_display()
        commissions = ", ".join(sorted(str(commission) for commission in obj.commissions.all())) or "—"
        if obj.role == StaffRole.CENTRE_MANAGER:
            return _("Manager (commissions: %(commissions)s)") % {"commissions": commissions}
        return _("Read only (commissions: %(commissions)s)") % {"commissions": commissions}


@admin.register(StaffEnrolmentToken)
class StaffEnrolmentTokenAdmin(ReadOnly, CentralOfficeOnly, admin.ModelAdmin):
    """The record of enrolment links and codes: who issued them, for whom, when they were used and from where.
    Tokens are never edited: the enrolment page creates links, and "add" here issues a code for a staff member
    (the central office's way, besides the user list's action for superusers)."""

    list_display = ["user", "channel", "issued_by", "issued_at", "expires_at", "used_at", "used_from"]
    list_filter = ["channel"]
    list_select_related = ["user", "issued_by"]
    search_fields = ["user__username", "user__last_name", "user__email"]
    show_full_result_count = False
    readonly_fields = ["user", "channel", "issued_by", "issued_at", "expires_at", "used_at", "used_from"]
    exclude = ["secret_hash"]

    # Read by the central office (CentralOfficeOnly), never changed nor deleted (ReadOnly); "add" issues a code.
    def has_add_permission(self, request, obj=None):
        return is_central(request.user)  # staff_enrolment.may_issue_enrolment_code's rule, from the loaded scope

    def add_view(self, request, form_url="", extra_context=None):
        """Choose a staff member, get a code (shown once)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = IssueEnrolmentCodeForm(data=request.POST or None, actor=request.user)
        if request.method == "POST" and form.is_valid():
            user = form.cleaned_data["user"]
            try:
                code = staff_enrolment.issue_enrolment_code(user=user, actor=request.user)
            except BusinessRuleError as error:
                form.add_error("user", str(error))
            else:
                return _codes_page(self, request, [(user, code)])
        context = {
            **self.admin_site.each_context(request),
            "title": _("Issue an enrolment code"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "accounts/admin_issue_enrolment_code.html", context)


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnly, CentralOfficeOnly, admin.ModelAdmin):
    """The record of candidate accounts deleted at their request (``applications.services.erasure``): read by the
    central office, written only by the deletion itself."""

    list_display = [
        "numero_dossier",
        "campaign",
        "everything",
        "applications",
        "files",
        "mails",
        "notified",
        "opi_sent",  # « OPI déjà transmise »: the person is to remove by hand in Pégase or Apogée
        "deleted_by",
        "deleted_at",
    ]
    list_filter = ["everything", "opi_sent", "campaign"]
    list_select_related = ["campaign", "deleted_by"]
    search_fields = ["numero_dossier"]
    show_full_result_count = False


@login_not_required
def admin_login(request, extra_context=None):
    """The back office logs in through allauth's login page, so that its rate limits (login_failed) and the
    annual-account rule apply there too. A staff member already logged in but without a second factor (see
    accounts.staff_access) is sent to the authenticator app instead."""
    if request.user.is_authenticated and not request.user.is_staff:
        raise PermissionDenied
    next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    if staff_access.needs_second_factor(request):
        return staff_access.second_factor_redirect(request, next_url)
    return redirect_to_login(next_url, login_url=reverse("account_login"))


def admin_logout(request, extra_context=None):
    """The back office's « Log out » is the site's (allauth's logout): after an ENT login it ends the ENT session too
    (CAS single logout, OpenID Connect RP-initiated logout: ``AccountAdapter.get_logout_redirect_url``). Django's
    admin logout ended only this session: on a shared office computer, the next person pressing the ENT button was
    logged in as the first one, with the ENT login as their second factor."""
    return LogoutView.as_view()(request)


# The default site is patched rather than replaced by an AdminSite subclass (mypy forbids assigning to methods).
admin.site.login = admin_login  # type: ignore[method-assign]
admin.site.logout = admin_logout  # type: ignore[method-assign]
admin.site.has_permission = staff_access.may_enter_back_office  # type: ignore[method-assign]
