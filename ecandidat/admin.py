from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.widgets import AutocompleteMixin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ecandidat import notifications
from ecandidat.admin_base import (
    CentralOfficeOnly,
    ReadOnly,
    eliding_french_titles,
    history_in_model_words,
    keeping_convertible_choices,
    linking_only_what_the_viewer_may_open,
    menu_titled_by_the_lists,
    not_found_for_readers,
    refusing_blank_searches,
    refusing_forged_lookups,
    refusing_forged_selections,
    refusing_out_of_range_choices,
    refusing_reverse_to_fields,
    telling_forms_their_viewer,
)
from ecandidat.admin_connectivity import connectivity_view, superuser_view, test_mail_view
from ecandidat.admin_inputs import mark_language
from ecandidat.admin_parameters import central_view, parameters_view
from ecandidat.batch_labels import BATCH_LABELS, batch_label, count_label
from ecandidat.emails import current_template, render_email, resend_emails
from ecandidat.faq import delete_faq_entries, save_faq_entry
from ecandidat.home_message import set_home_message
from ecandidat.mail_templates import TemplateSyntaxProblem, file_version, language_in_sentence, variable_rows
from ecandidat.maintenance import save_switches
from ecandidat.models import (
    BatchRun,
    DestroyedCampaignCount,
    FaqEntry,
    HomeMessage,
    MailTemplate,
    MaintenanceSwitch,
    OutboundEmail,
    ParameterOverride,
    StaffDirectoryChange,
)
from ecandidat.notifications import code_choices
from ecandidat.staff import is_central

# Every admin action (ours and the packages') refuses a forged selection with a 400 instead of failing on it (a 500).
admin.ModelAdmin.response_action = refusing_forged_selections(admin.ModelAdmin.response_action)  # type: ignore[method-assign]
# Django's French titles say "Ajout de étiquette": French elides ("Ajout d'étiquette").
admin.ModelAdmin.render_change_form = eliding_french_titles(admin.ModelAdmin.render_change_form)  # type: ignore[method-assign]
# A list's query string with a filter the database cannot run (?created_at__year=0) is a 400, not a 500.
admin.ModelAdmin.lookup_allowed = refusing_forged_lookups(admin.ModelAdmin.lookup_allowed)  # type: ignore[method-assign]
# ?_to_field= naming a reverse relation (?_to_field=events) is a 400, not a 500.
admin.ModelAdmin.to_field_allowed = refusing_reverse_to_fields(admin.ModelAdmin.to_field_allowed)  # type: ignore[method-assign]
# A multiple choice of rows posted with an id out of the integers' range (20 digits) says so next to the field, rather
# than failing on it (SQLite, a 500); in every form, the back office's and the others.
forms.ModelMultipleChoiceField._check_values = refusing_out_of_range_choices(  # type: ignore[attr-defined]
    forms.ModelMultipleChoiceField._check_values  # type: ignore[attr-defined]  # private: its type is not declared
)
# A search holding no word (a lone "'") finds no row, rather than every row.
admin.ModelAdmin.get_search_results = refusing_blank_searches(admin.ModelAdmin.get_search_results)  # type: ignore[method-assign]
# The history names a changed field by the model's words (a msgid, translated when shown), not the form's label.
admin.ModelAdmin.construct_change_message = history_in_model_words(admin.ModelAdmin.construct_change_message)  # type: ignore[method-assign]
# A read-only foreign key links to the related row's page only when the viewer may open it (not to a 403).
admin.ModelAdmin.render_change_form = telling_forms_their_viewer(admin.ModelAdmin.render_change_form)  # type: ignore[method-assign]
helpers.AdminReadonlyField.get_admin_url = linking_only_what_the_viewer_may_open(  # type: ignore[method-assign]
    helpers.AdminReadonlyField.get_admin_url
)
# An autocomplete field posted with a value that is not an id ("abc") shows the form's message, not a 500.
AutocompleteMixin.optgroups = keeping_convertible_choices(AutocompleteMixin.optgroups)  # type: ignore[method-assign]

# The staff who write none of the setup (candidates managers, read-only staff, commission members) get a 404 from
# every back-office page they may not open, and from the add, delete and history pages they are never offered.
admin.site.admin_view = not_found_for_readers(admin.site.admin_view)  # type: ignore[method-assign]

# A list with its own title (« Historique des batchs ») is named by it in the menu and on the home page.
admin.site._build_app_dict = menu_titled_by_the_lists(admin.site._build_app_dict, admin.site._registry)  # type: ignore[method-assign]
admin.site.site_header = _("eCandidat — back office")
admin.site.site_title = _("eCandidat back office")
admin.site.index_title = _("Management")


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnly, CentralOfficeOnly, admin.ModelAdmin):
    """The outbox, read-only, for the central office: what was sent, what waits and why, what failed, what was
    cancelled before it left and why (« annulé » and its reason: a decision mail of an application withdrawn since).
    Failed mails can be sent again ("Renvoyer"), through the service, which records who did it; a cancelled one
    cannot (``ecandidat.emails.resend_emails``): what it announced no longer holds."""

    list_display = [
        "created_at",
        "code",
        "to",
        "subject",
        "attachment_list",
        "status_shown",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "code"]
    search_fields = ["to", "subject"]
    # The attachments' names instead of their references (the JSON of the row).
    readonly_fields = ["attachment_list" if f.name == "attachments" else f.name for f in OutboundEmail._meta.fields]
    exclude = ["attachments"]
    show_full_result_count = False
    actions = ["resend", "resend_without_attachments"]

    @admin.display(description=_("attachments"))
    def attachment_list(self, obj: OutboundEmail) -> str:
        return ", ".join(obj.attachment_names) or "-"

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, obj: OutboundEmail) -> str:
        """The status, and for a cancelled mail the reason under it; a cancellation that came while the mail was
        being sent (it may have left, or it is still being sent) is said so (``emails.cancel_pending``)."""
        status = obj.get_status_display()
        if not obj.cancel_reason:
            return status
        if obj.status == OutboundEmail.Status.CANCELLED:
            return format_html('{}<br><span class="quiet">{}</span>', status, obj.cancel_reason)
        late = gettext("Cancelled while it was being sent: %(reason)s") % {"reason": obj.cancel_reason}
        return format_html('{}<br><span class="quiet">{}</span>', status, late)

    def has_resend_permission(self, request) -> bool:
        return is_central(request.user)

    @admin.action(description=_("Resend the selected failed e-mails"), permissions=["resend"])
    def resend(self, request, queryset):
        self._resend(request, queryset, without_attachments=False)

    @admin.action(
        description=_("Resend the selected failed e-mails without their attachments"), permissions=["resend"]
    )
    def resend_without_attachments(self, request, queryset):
        """For a mail whose attachment can never be read (its build fails every time): it leaves without it."""
        self._resend(request, queryset, without_attachments=True)

    def _resend(self, request, queryset, *, without_attachments: bool) -> None:
        selected = list(queryset.only("pk"))
        resent = resend_emails(emails=selected, actor=request.user, without_attachments=without_attachments)
        if resent and without_attachments:
            # One history row per mail naming its own files (as the row was before: ``resent`` holds that state),
            # written in one INSERT.
            content_type = ContentType.objects.get_for_model(OutboundEmail, for_concrete_model=False)
            with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
                entries = [
                    LogEntry(
                        user_id=request.user.pk,
                        content_type_id=content_type.pk,
                        object_id=str(email.pk),
                        object_repr=str(email)[:200],
                        action_flag=CHANGE,
                        change_message=gettext("Resent without its attachments: %(names)s.")
                        % {"names": ", ".join(email.attachment_names) or "-"},
                    )
                    for email in resent
                ]
            LogEntry.objects.bulk_create(entries)
        if resent and not without_attachments:
            with translation.override(settings.LANGUAGE_CODE):  # history: the institution's language
                resent_message = gettext("Resent.")
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=resent,
                action_flag=CHANGE,
                change_message=resent_message,
                single_object=False,
            )
        skipped = len(selected) - len(resent)
        if resent:
            self.message_user(
                request,
                ngettext("%(count)d e-mail will be sent again.", "%(count)d e-mails will be sent again.", len(resent))
                % {"count": len(resent)},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d e-mail was not resent: only failed e-mails can be.",
                    "%(count)d e-mails were not resent: only failed e-mails can be.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


class BatchNameFilter(admin.SimpleListFilter):
    """ "Par batch" by the batches' labels (from the list of known batches: no query for the distinct names)."""

    title = _("batch")
    parameter_name = "name"

    def lookups(self, request, model_admin):
        return sorted(((name, label) for name, label in BATCH_LABELS.items()), key=lambda item: str(item[1]))

    def queryset(self, request, queryset):
        return queryset.filter(name=self.value()) if self.value() else queryset


@admin.register(BatchRun)
class BatchRunAdmin(admin.ModelAdmin):
    """The history of the nightly batches (eCandidat "Historique des batchs"), read-only."""

    list_display = ["batch", "started_at", "finished_at", "status", "dry_run", "counts_shown"]
    list_filter = ["status", BatchNameFilter, "dry_run"]
    fields = ("batch", "status", "dry_run", "started_at", "heartbeat_at", "finished_at", "counts_shown", "errors")
    readonly_fields = fields
    show_full_result_count = False
    # The list's and the menu's title, eCandidat's; the model's name (« lancement de batch ») is for Django's phrases.
    list_title = _("batch history")

    @admin.display(description=_("batch"), ordering="name")
    def batch(self, run):
        # The label a French staff member reads (« Déversement des OPI »), the command's name for ops' logs.
        return format_html('{} <span class="quiet">({})</span>', batch_label(run.name), run.name)

    @admin.display(description=_("counts"))
    def counts_shown(self, run):
        """One line per count, its words in the reader's language (the raw JSON and its English keys were shown)."""
        if not run.counts:
            return "-"
        return format_html_join(
            mark_safe("<br>"),
            "{}",
            (
                (gettext("%(what)s: %(count)s") % {"what": count_label(key), "count": value},)
                for key, value in run.counts.items()
            ),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A running batch's row is its claim (``batch_single_running``): deleting it, as one did in eCandidat for a run
        # that looked stuck, let a second copy start beside the first. A run that died is marked interrupted by the
        # next run's sweep (``interrupt_stale_runs``), minutes after; it may then be deleted.
        if obj is not None and obj.status == BatchRun.Status.RUNNING:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(MaintenanceSwitch)
class MaintenanceSwitchAdmin(admin.ModelAdmin):
    """The maintenance switches: the whole candidate side by hand (besides the daily window; staff keep access), or
    only the piece uploads (eCandidat TECH_IS_DEMAT_MAINTENANCE, while the file storage is down). For superusers and
    the staff given Django's permissions on the switch (e.g. the central office's group).

    Also mounts the superusers' "Tests de connexion" page (``ecandidat.admin_connectivity``), linked from the list.
    """

    list_display = ["__str__", "message", "uploads_paused", "uploads_message", "updated_at"]
    fieldsets = [
        (_("Candidate site"), {"fields": ["is_on", "message"]}),
        (_("Piece uploads"), {"fields": ["uploads_paused", "uploads_message"]}),
    ]

    def has_add_permission(self, request):
        # Django's permission first (without it, no query: the sidebar asks on every page), then the singleton's.
        return super().has_add_permission(request) and not MaintenanceSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so that the cached state every page reads changes once the save commits.
        saved = save_switches(
            is_on=obj.is_on,
            message=obj.message,
            uploads_paused=obj.uploads_paused,
            uploads_message=obj.uploads_message,
            actor=request.user,
        )
        obj.pk, obj.updated_at = saved.pk, saved.updated_at  # for the admin's history entry and its links

    def get_urls(self):
        return [
            path("connectivity/", superuser_view(self, connectivity_view), name="ecandidat_connectivity"),
            path("connectivity/mail/", superuser_view(self, test_mail_view), name="ecandidat_connectivity_mail"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        # The connection tests show the infrastructure: the link is for superusers (the page answers 404 to others).
        url = reverse("admin:ecandidat_connectivity") if request.user.is_superuser else ""
        return super().changelist_view(request, {**(extra_context or {}), "connectivity_url": url})


@admin.register(HomeMessage)
class HomeMessageAdmin(CentralOfficeOnly, admin.ModelAdmin):
    """The home page's message (eCandidat MSG_ACCUEIL), written by the central office."""

    list_display = ["__str__", "updated_at"]
    fields = ["text_fr", "text_en"]

    # "Add" is offered to the central office even when the message exists: the row is a singleton (pk 1), so adding
    # replaces it. Asking the database whether it exists would cost every back-office page a query (the sidebar).

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so that the cached text every home page reads is replaced.
        saved = set_home_message(text_fr=obj.text_fr, text_en=obj.text_en, actor=request.user)
        obj.pk, obj.updated_at = saved.pk, saved.updated_at  # for the admin's history entry and its links


@admin.register(FaqEntry)
class FaqEntryAdmin(CentralOfficeOnly, admin.ModelAdmin):
    """The FAQ of the "Assistance" page (eCandidat "FAQ"), written by the central office: ordered question/answer
    pairs in French, optionally in English. Saves and deletions go through ``ecandidat.faq``, so that the cached FAQ
    every Assistance page reads is replaced; the admin's history (LogEntry) records who did what."""

    list_display = ["question_fr", "order", "has_english", "in_service", "updated_at"]
    list_display_links = ["question_fr"]
    list_editable = ["order", "in_service"]
    list_filter = ["in_service"]
    search_fields = ["question_fr", "question_en"]
    fields = ["order", "in_service", "question_fr", "answer_fr", "question_en", "answer_en"]

    @admin.display(description=_("in English"), boolean=True)
    def has_english(self, obj):
        return bool(obj.question_en)

    def save_model(self, request, obj, form, change):
        save_faq_entry(entry=obj, actor=request.user)

    def delete_model(self, request, obj):
        delete_faq_entries(entries=[obj], actor=request.user)

    def delete_queryset(self, request, queryset):
        delete_faq_entries(entries=queryset, actor=request.user)


# The "batch" of a change made at the account's own ENT login (``accounts.directory.LOGIN_REFRESH``, not imported:
# ``ecandidat`` is the layer below ``accounts``); rows written before OpenID Connect logins refreshed too say
# "cas_login".
LOGIN_REFRESH = "ent_login"
LOGIN_BATCHES = {LOGIN_REFRESH, "cas_login"}


@admin.register(StaffDirectoryChange)
class StaffDirectoryChangeAdmin(ReadOnly, CentralOfficeOnly, admin.ModelAdmin):
    """What the directory changed on staff accounts (the nightly ``refresh_staff_directory``, or the account's own ENT
    login), read-only, for the central office: refreshed names and addresses, deactivated accounts, and which batch
    did it. Everything in words: the values changed one field a line (the stored JSON read « {"is_active": [true,
    false]} »), the batch by its label, and who made the change (no actor: the batch, or the ENT login)."""

    list_display = ["created_at", "user", "kind", "changes_shown", "comment", "source"]
    list_filter = ["kind"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "actor"]
    readonly_fields = ["created_at", "user", "kind", "changes_shown", "comment", "made_by", "source"]
    fields = list(readonly_fields)
    show_full_result_count = False

    # The stored field names the directory changes, by the words of their account field (``changes_shown``). Not the
    # User's verbose name for ``is_active``: « active » is the campaign's word (« campagne active »).
    FIELD_LABELS = {"is_active": pgettext_lazy("staff directory change", "account active")}

    @admin.display(description=_("values changed"))
    def changes_shown(self, change):
        """One line per field: its name, « avant → après », « oui »/« non » for a yes/no and « (vide) » for nothing."""
        if not change.changes:
            return "-"
        return format_html_join(
            mark_safe("<br>"),
            "{}",
            (
                (
                    gettext("%(field)s: %(before)s → %(after)s")
                    % {"field": self._field_label(name), "before": self._value(before), "after": self._value(after)},
                )
                for name, (before, after) in self._pairs(change.changes)
            ),
        )

    @admin.display(description=_("made by"))
    def made_by(self, change):
        """The person when one acted; otherwise what did it: the account's owner at their ENT login, or the batch."""
        if change.actor_id is not None:
            return change.actor
        if change.batch in LOGIN_BATCHES:
            return gettext("the account's owner, at their ENT login")
        return gettext("batch “%(batch)s”") % {"batch": batch_label(change.batch)}

    @admin.display(description=_("batch"), ordering="batch")
    def source(self, change):
        """The nightly batch or the ENT login that made the change, by its label (the name beside it for ops)."""
        name = LOGIN_REFRESH if change.batch in LOGIN_BATCHES else change.batch
        return format_html('{} <span class="quiet">({})</span>', batch_label(name), change.batch)

    def _field_label(self, name: str) -> str:
        if name in self.FIELD_LABELS:
            return str(capfirst(self.FIELD_LABELS[name]))
        try:
            field = get_user_model()._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        return str(capfirst(getattr(field, "verbose_name", name)))

    @staticmethod
    def _value(value) -> str:
        if isinstance(value, bool):
            return gettext("yes") if value else gettext("no")
        if value is None or value == "":
            return gettext("(empty)")
        return str(value)

    @staticmethod
    def _pairs(changes):
        """(field, (before, after)) for each change as stored, in the account's field order (PostgreSQL's jsonb keeps
        its keys in its own order); a value not stored as a pair is shown as the after."""
        order = {field.name: position for position, field in enumerate(get_user_model()._meta.get_fields())}
        for name in sorted(changes, key=lambda name: (order.get(name, len(order)), name)):
            pair = changes[name]
            if isinstance(pair, list | tuple) and len(pair) == 2:
                yield name, pair
            else:
                yield name, (None, pair)


@admin.register(ParameterOverride)
class ParameterOverrideAdmin(admin.ModelAdmin):
    """ "Paramètres": the scolarité's parameters on one page (``ecandidat.admin_parameters``), for the central office
    and superusers; this ModelAdmin only puts the page in the admin's home and sidebar (its changelist is the page).
    No add, change or delete page: the service writes the rows and their history."""

    def has_module_permission(self, request):
        return is_central(request.user)

    def has_view_permission(self, request, obj=None):
        return is_central(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [path("", central_view(self, parameters_view), name="ecandidat_parameteroverride_changelist")]


@admin.register(DestroyedCampaignCount)
class DestroyedCampaignCountAdmin(ReadOnly, admin.ModelAdmin):
    """What remains of the campaigns destroyed by the nightly batch: anonymous counts, read-only."""

    list_display = ["campaign_code", "accounts", "applications", "documents", "destruction"]
    readonly_fields = [*(f.name for f in DestroyedCampaignCount._meta.fields), "destruction"]

    @admin.display(description=_("destroyed at"), ordering="destroyed_at")
    def destruction(self, count: DestroyedCampaignCount):
        """The date the last account went; « en cours » while some remain (``DestroyedCampaignCount.destroyed_at``)."""
        if count.destroyed_at is None:
            return _("in progress (accounts remain)")
        return count.destroyed_at  # shown as the admin shows a date and time (local time, the reader's format)


class MailTemplateForm(forms.ModelForm):
    code = forms.ChoiceField(label=_("mail"), choices=code_choices)

    class Meta:
        model = MailTemplate
        fields = ["code", "language", "subject", "body", "in_service"]
        widgets = {
            "subject": forms.TextInput(attrs={"size": 100}),
            "body": forms.Textarea(attrs={"rows": 22, "cols": 110}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The text's language is the row's (RGAA 8.7, ecandidat/admin_inputs.py): the row's own, or on the add page
        # the one chosen in the list of mails (?language=).
        language = self.instance.language if self.instance.pk else self.initial.get("language")
        for name in ("subject", "body"):
            if name in self.fields:
                mark_language(self.fields[name].widget, language)


@admin.register(MailTemplate)
class MailTemplateAdmin(CentralOfficeOnly, admin.ModelAdmin):
    """The central office's own mail texts (eCandidat "Mails", ecandidat-features §2.10), per code and language.

    Only the central office (superusers and SCOL memberships) sees this page: the texts go to every candidate.
    Every save records its author (``updated_by``, and Django's admin log). The add page first lists every mail
    that can be edited, with its state; a new text starts from the file version.
    """

    form = MailTemplateForm
    list_display = ["code", "mail_label", "language", "subject", "in_service", "updated_at", "updated_by"]
    list_filter = ["in_service", "language", "code"]
    search_fields = ["code", "subject", "body"]
    list_select_related = ["updated_by"]
    show_full_result_count = False

    @admin.display(description=_("label"))
    def mail_label(self, obj):
        return obj.mail_type.label if obj.mail_type else "—"

    # Access: the central office only (CentralOfficeOnly).

    # --- forms ---

    def get_readonly_fields(self, request, obj=None):
        return ["code", "language", "updated_by", "updated_at"] if obj else []

    def get_fields(self, request, obj=None):
        fields = ["code", "language", "subject", "body", "in_service"]
        return [*fields, "updated_by", "updated_at"] if obj else fields

    def get_changeform_initial_data(self, request):
        """A new text starts from the file version of the chosen mail and language."""
        initial = super().get_changeform_initial_data(request)
        code = initial.get("code", "")
        mail_type = notifications.get(code) if isinstance(code, str) else None  # a list only for many-to-many fields
        language = initial.get("language") or settings.LANGUAGE_CODE
        if mail_type is not None and language in MailTemplate.Language.values:
            try:
                initial["subject"], initial["body"] = file_version(mail_type, language)
            except TemplateSyntaxProblem as problem:  # the files use what the override syntax cannot write
                messages.warning(request, str(problem))
        return initial

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "GET" and request.GET.get("code") not in notifications.codes():
            return self.choose_mail_view(request)
        mail_type = notifications.get(request.GET.get("code") or request.POST.get("code", ""))
        language = request.GET.get("language") or request.POST.get("language") or settings.LANGUAGE_CODE
        extra_context = {**(extra_context or {}), **self._help_context(mail_type, language)}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {}
        if obj is not None and obj.mail_type is not None:
            extra = self._help_context(obj.mail_type, obj.language, show_file_version=True)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def _help_context(self, mail_type, language, *, show_file_version=False) -> dict:
        if mail_type is None:
            return {}
        context = {
            "mail_type": mail_type,
            "variables": variable_rows(mail_type),
            "preview_url": f"{reverse('admin:ecandidat_mailtemplate_preview')}?code={mail_type.code}"
            f"&language={language}",
        }
        if show_file_version and language in MailTemplate.Language.values:
            try:
                context["file_subject"], context["file_body"] = file_version(mail_type, language)
            except TemplateSyntaxProblem as problem:
                context["file_problem"] = str(problem)
        return context

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        mail_type = obj.mail_type
        if not obj.in_service:
            self.message_user(
                request,
                gettext(
                    "The mail “%(label)s” (%(code)s, %(language)s) is out of service: it is no longer sent when "
                    "%(when)s (recipient: %(recipient)s). The other languages are not affected. Tick “in service” "
                    "again to send it, or delete this text to go back to the file version."
                )
                % {
                    "label": mail_type.label,
                    "code": obj.code,
                    "language": obj.get_language_display(),
                    "recipient": mail_type.recipient,
                    "when": mail_type.sent_when,
                },
                messages.WARNING,
            )

    # --- extra pages ---

    def get_urls(self):
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="ecandidat_mailtemplate_preview"),
            *super().get_urls(),
        ]

    def choose_mail_view(self, request):
        """Every mail that can be edited, with its state in each language and links to edit or preview it."""
        existing = {(t.code, t.language): t for t in MailTemplate.objects.only("id", "code", "language", "in_service")}
        rows = []
        for mail_type in notifications.registered():
            code = mail_type.code
            languages = []
            for language, language_label in MailTemplate.Language.choices:
                template = existing.get((code, language))
                languages.append(
                    {
                        "label": language_label,
                        "template": template,
                        "edit_url": (
                            reverse("admin:ecandidat_mailtemplate_change", args=[template.pk])
                            if template
                            else f"{reverse('admin:ecandidat_mailtemplate_add')}?code={code}&language={language}"
                        ),
                        "preview_url": f"{reverse('admin:ecandidat_mailtemplate_preview')}?code={code}"
                        f"&language={language}",
                    }
                )
            rows.append({"mail_type": mail_type, "languages": languages})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Choose the mail to edit"),
            "rows": rows,
        }
        return TemplateResponse(request, "admin/ecandidat/mailtemplate/choose_mail.html", context)

    def preview_view(self, request):
        """Render a mail with sample data, without sending anything ("Tester" in eCandidat).

        GET ``?code=&language=``: the mail as it would be sent now (the back office's text if in service, else the
        files). POST (the "Preview" button of the form): the text being edited, checked as the save would check it:
        by the admin's own form (``get_form``: the fields' checks, a NUL character or a subject over 200 characters
        among them, then the model's ``clean``), whose messages are listed in the order of the form's fields. Only
        the table's constraints are left to the save (whether a text of this mail and language exists: which row it
        will be, not the text; the account mails' "in service" is the model's ``clean`` too). It used to run the
        model's ``clean`` alone: a subject the save refused previewed cleanly.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        code = request.POST.get("code") or request.GET.get("code", "")
        language = request.POST.get("language") or request.GET.get("language") or settings.LANGUAGE_CODE
        mail_type = notifications.get(code)
        if mail_type is None or language not in MailTemplate.Language.values:
            raise Http404
        context = {**self.admin_site.each_context(request), "opts": self.opts, "mail_type": mail_type}
        context["title"] = _("Preview: %(code)s") % {"code": code}
        context["language_label"] = language_in_sentence(language)
        errors = []
        template: MailTemplate | None  # the text to preview; None: the file version
        if request.method == "POST":
            form = self._preview_form(request, code=code, language=language)
            if form.is_valid():
                template = MailTemplate(
                    code=code,
                    language=language,
                    subject=form.cleaned_data["subject"],
                    body=form.cleaned_data["body"],
                    in_service=True,
                )
            else:
                template = None
                # Every key of the form's errors is one of its fields or NON_FIELD_ERRORS (``add_error``).
                names = [*form.fields, NON_FIELD_ERRORS]
                errors = [message for name in names for message in form.errors.get(name, [])]
            context["source"] = _("the text being edited (not saved)")
        else:
            template = current_template(code, language)
            if template is not None and not template.in_service:
                context["out_of_service"] = True
            context["source"] = (
                _("the back office's text") if template is not None and template.in_service else _("the file version")
            )
        context["errors"] = errors
        if not errors:
            sample = {"institution_name": settings.INSTITUTION_NAME, **mail_type.sample_context()}
            subject, body, html = render_email(
                mail_type.template_base, sample, language=language, code=code, template=template
            )
            context.update(subject=subject, body=body, html=html)
        return TemplateResponse(request, "admin/ecandidat/mailtemplate/preview.html", context)

    def _preview_form(self, request, *, code: str, language: str) -> forms.ModelForm:
        """The add page's form (``get_form``, as the save builds it) bound to the posted text, for ``code`` and
        ``language`` as the preview's address or the form gives them (the change page posts neither: read-only
        there). Its constraints are not checked (``preview_view``): they would read the table."""
        form_class = self.get_form(request, None, change=False)

        class PreviewForm(form_class):  # type: ignore[valid-type,misc]
            def validate_constraints(self):
                return

        data = request.POST.copy()
        data["code"], data["language"] = code, language
        return PreviewForm(data)
