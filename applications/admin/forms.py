"""Forms of the back office's operations on applications (bulk actions and the application page)."""

import datetime
import re
from decimal import Decimal

from django import forms
from django.db.models.fields import BLANK_CHOICE_LABEL
from django.forms.models import ModelChoiceIterator
from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import date_format, localize_input
from django.utils.functional import Promise
from django.utils.html import conditional_escape, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications.dates import confirmation_date as current_confirmation_date
from applications.dates import effective_return_deadline
from applications.enums import DossierStatus
from applications.models import Application, ReferenceFeeExemption, ReferenceRegime, Tag
from applications.services.registration import AMOUNT_MAX, COMPLEMENT_MAX_LENGTH, FIELDS, KEEP, stored_values
from applications.services.staff import (
    RETURN_DEADLINE_STATUSES,
    new_confirmation_date_refusal,
    new_return_deadline_refusal,
)
from applications.workflow import before_creation_message, earliest_status_date
from ecandidat import parameters
from ecandidat.admin_inputs import IsoDateInput
from ecandidat.staff_text import StaffText, StaffTextSelect
from offers.enums import Avis
from offers.models import Campaign, DecisionType, RefusalReason

# A complementary-list rank: far above any list, far below the database's integer (a larger number was a 500).
RANK_MAX = 99_999


_KEY = re.compile(r"[0-9]{1,18}")  # a primary key in a hidden field (bigint: at most 19 digits)


class StatusForm(forms.Form):
    # No status is preselected: a click on "Confirmer" straight away must not send the dossier back (issue 11).
    target = forms.ChoiceField(
        label=_("New dossier status"), choices=[("", BLANK_CHOICE_LABEL), *DossierStatus.choices]
    )
    # « Incomplet » and « En attente » ask the candidate to send the dossier again by the date limite de retour: once
    # they could no longer do it by the application's, the change is refused next to this field
    # (``staff.status_return_deadline_refusal``) unless a later date is given here (``staff.give_return_deadline``).
    return_deadline = forms.DateField(
        label=_("Return deadline for this application"),
        required=False,
        widget=IsoDateInput(),
        help_text=_(
            "Only for “Incomplete” or “Waiting”: required once the candidate can no longer transmit by the "
            "application's return deadline; a later date is kept."
        ),
    )
    comment = forms.CharField(
        label=_("Comment (added to the mail)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    force_complete = forms.BooleanField(
        label=_("Set complete even though pieces are not validated"),
        required=False,
        help_text=_("Only for “Complete”: without it, a dossier whose pieces are not all validated stays as it is."),
    )
    force_reason = forms.CharField(
        label=_("Reason (written to the history)"), required=False, max_length=500, widget=forms.TextInput()
    )
    # eCandidat's "Statut du dossier" asks the date: a paper dossier logged days after it arrived keeps its real
    # reception date, from which the SVA alerts count (SVA_ALERT_DATE).
    on = forms.DateField(
        label=_("Date of the change"),
        required=False,
        widget=IsoDateInput(),
        help_text=_("Received, complete or incomplete: the day it happened, if not today. Never in the future."),
    )

    # Each application's status as the page showed it ("pk:code,…", ``initial_for``): the service refuses to change
    # a dossier whose status a colleague changed since (``staff.set_dossier_status``'s ``expected_status``), rather
    # than replace their « Complet » with the « Incomplet » chosen from « Réceptionné », unsaid, and mail both.
    shown_statuses = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, application: Application | None = None, **kwargs):
        """``application``: the one application of the page, whose creation day is the earliest date of the change
        (``workflow.earliest_status_date``); a selection's are checked one by one by the service, which refuses
        that application only."""
        super().__init__(*args, **kwargs)
        self.earliest = earliest_status_date(application) if application is not None else None

    def clean_shown_statuses(self) -> dict[int, str] | None:
        if self.add_prefix("shown_statuses") not in self.data:
            return None  # posted by something other than the page (a script): no page to hold it to
        shown = {}
        for item in self.cleaned_data["shown_statuses"].split(","):
            application, _sep, status = item.strip().partition(":")
            if not application:
                continue
            # ASCII digits only, as a key is written: "²" passes isdigit() and int() refuses it (a 500).
            if not _KEY.fullmatch(application) or status not in DossierStatus.values:
                raise forms.ValidationError(_("This page is out of date: open it again."))
            shown[int(application)] = status
        return shown

    def expected_status(self, application: Application) -> str | None:
        """``application``'s status when the page was shown ("": not on the page, which never matches), for the
        service's ``expected_status``; None when the form was posted without the page's value."""
        shown = self.cleaned_data.get("shown_statuses")
        if shown is None:
            return None
        return shown.get(application.pk, "")

    @staticmethod
    def initial_for(statuses: dict[int, str]) -> dict[str, str]:
        """The hidden value for ``statuses``: each application's pk with its dossier status's code."""
        return {"shown_statuses": ",".join(f"{pk}:{status}" for pk, status in sorted(statuses.items()))}

    def rebound(self, statuses: dict[int, str], application: Application | None = None) -> "StatusForm":
        """The same form as posted, validated again, holding the statuses the page now shows (``statuses``): after
        a refusal, what was typed stays and a second "Confirm", the message read, acts on the status now."""
        data = QueryDict(mutable=True)
        data.update(self.data)
        data[self.add_prefix("shown_statuses")] = self.initial_for(statuses)["shown_statuses"]
        form = type(self)(data, initial=self.initial, prefix=self.prefix, application=application)
        form.is_valid()
        return form

    def clean(self):
        data = super().clean()
        assert data is not None
        if data.get("force_complete") and not (data.get("force_reason") or "").strip():
            self.add_error("force_reason", _("Give the reason for setting the dossier complete anyway."))
        on = data.get("on")
        if on is not None:
            if on > timezone.localdate():
                self.add_error("on", _("The date of the change cannot be in the future."))
            elif data.get("target") == DossierStatus.WAITING:
                status = DossierStatus.WAITING.label
                self.add_error("on", _("The status “%(status)s” has no date.") % {"status": status})
            elif self.earliest is not None and on < self.earliest:
                self.add_error("on", before_creation_message(self.earliest))
        day = data.get("return_deadline")
        if day is not None:
            if data.get("target") not in RETURN_DEADLINE_STATUSES:
                self.add_error(
                    "return_deadline",
                    _("A return deadline goes with “%(incomplete)s” or “%(waiting)s” only.")
                    % {"incomplete": DossierStatus.INCOMPLETE.label, "waiting": DossierStatus.WAITING.label},
                )
            # Not after the closing date for candidates of the active campaign (the operation's applications':
            # ``editable_by``), read once, only when a date is given; the service checks each application's again.
            elif refusal := new_return_deadline_refusal(
                day, campaign=Campaign.objects.active().only("label", "ends_on").first()
            ):
                self.add_error("return_deadline", refusal)
        return data


class FrenchLabelChoiceField(forms.ModelChoiceField):
    """Rows named in French by the staff (decision types, refusal reasons): with ``StaffTextSelect``, each option is
    marked ``lang="fr"`` in the English back office (RGAA 8.7)."""

    def label_from_instance(self, obj):
        return StaffText(str(obj), "fr")


class RowsReadOnceIterator(ModelChoiceIterator):
    """The field's rows read from its queryset's own cache, not with ``iterator()`` (Django's, which reads them again
    at each rendering): the form's other uses of the same rows (``DecisionForm``'s comment help) add no query."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class DecisionTypeChoiceField(FrenchLabelChoiceField):
    iterator = RowsReadOnceIterator


class DecisionTypeSelect(StaffTextSelect):
    """The decision types, each option carrying its kind of avis (``data-avis``) for static/js/decision_form.js, and
    its language (``StaffTextSelect``)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-avis"] = instance.avis
        return option


def _only_for(avis: Avis, widget: forms.Widget | None = None) -> forms.Widget:
    """A widget marked as meaningful for one kind of avis only: the script shows its row for that kind alone."""
    widget = widget or forms.TextInput()
    widget.attrs["data-shown-for"] = avis.value
    return widget


# A preselection convocation is within a campaign or two of today: a date far off (year 1, typed or forged) was a
# 500 when it was made a datetime, and a typo ("2062" for "2026") a convocation nobody would attend.
PRESELECTION_DAYS_BEFORE = 366
PRESELECTION_DAYS_AFTER = 2 * 366


class ShownDecisionsForm(forms.Form):
    """A form carrying, hidden, the latest decision of each application as its page showed it (``initial_for``):
    the service refuses to act on an application whose decisions changed since (a colleague's entry, the form sent
    twice by a double click), instead of acting on a decision nobody read (``expected_latest``)."""

    shown_decisions = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_shown_decisions(self) -> dict[int, int] | None:
        if self.add_prefix("shown_decisions") not in self.data:
            return None  # posted by something other than the page (a script): no page to hold it to
        text = self.cleaned_data["shown_decisions"]
        try:
            shown = {}
            for item in text.split(","):
                if item.strip():
                    application, decision = item.split(":")
                    shown[int(application)] = int(decision)
        except ValueError:
            raise forms.ValidationError(_("This page is out of date: open it again.")) from None
        return shown

    def expected_latest(self, application: Application) -> int | None:
        """The pk of ``application``'s latest decision when the page was shown (0: none, or not on the page), for
        the service's ``expected_latest``; None when the form was posted without the page's value."""
        shown = self.cleaned_data.get("shown_decisions")
        if shown is None:
            return None
        return shown.get(application.pk, 0)

    @staticmethod
    def initial_for(latest: dict[int, int | None]) -> dict[str, str]:
        """The hidden value for ``latest``: each application's pk with its latest decision's (None: it has none)."""
        return {"shown_decisions": ",".join(f"{pk}:{decision or 0}" for pk, decision in sorted(latest.items()))}

    def rebound(self, latest: dict[int, int | None]) -> "ShownDecisionsForm":
        """The same form as posted, validated again, holding the decisions the page now shows (``latest``): after a
        refusal, what was typed stays and a second "Confirm" acts on what the page now shows."""
        data = QueryDict(mutable=True)
        data.update(self.data)  # a copy of the posted data (a QueryDict: each field's values)
        data[self.add_prefix("shown_decisions")] = self.initial_for(latest)["shown_decisions"]
        form = type(self)(data, initial=self.initial, prefix=self.prefix)
        form.is_valid()
        return form


class DeleteDecisionForm(ShownDecisionsForm):
    """ "Supprimer le dernier avis": a confirmation carrying the decision the page named, which alone is deleted
    (``staff.delete_last_decision``'s ``expected``)."""


class CommentHelp(Promise):
    """Who reads a decision's comment, said under it: the candidate, for the in-service types that show it
    (``show_comment``: their mail, letter and application page), each named as the list names it (French, marked
    so); the staff alone for the others. Said when the form is rendered, from the rows of its list of types
    (``RowsReadOnceIterator``): validating a post, a bound field only asks whether there is a help text (always),
    which reads no type."""

    def __init__(self, decision_types: DecisionTypeChoiceField):
        self.decision_types = decision_types

    def __bool__(self) -> bool:
        return True

    def __html__(self) -> SafeString:
        kinds = self.decision_types.queryset
        field = self.decision_types
        shown = (
            [field.label_from_instance(kind).marked for kind in kinds if kind.show_comment]
            if kinds is not None
            else []
        )
        if not shown:
            return conditional_escape(gettext("Never shown to the candidate."))
        text = gettext(
            "Read by the candidate (mail, letter, their application) for: %(types)s. Internal for the other decisions."
        )
        types = format_html_join(", ", "{}", ((label,) for label in shown))
        return mark_safe(conditional_escape(text) % {"types": types})  # noqa: S308 - the text escaped, each type marked

    def __str__(self) -> str:
        return self.__html__()


class DecisionForm(ShownDecisionsForm):
    """ "Saisir un avis". With JavaScript, only the fields of the chosen kind of avis are shown (motivation for an
    unfavourable one, rank for a complementary list, date, time and place for a preselection); without it every
    field is shown, labelled with the kind it belongs to, and ``staff.record_decision`` ignores a value given for
    another kind. It carries the decisions the page showed (``ShownDecisionsForm``): sent twice, or after a
    colleague's entry, it is refused rather than recorded twice."""

    decision_type = DecisionTypeChoiceField(
        label=_("Decision"),
        queryset=DecisionType.objects.filter(in_service=True).order_by("avis", "label"),
        widget=DecisionTypeSelect,
    )
    refusal_reason = FrenchLabelChoiceField(
        label=_("Reason (unfavourable decision)"),
        queryset=RefusalReason.objects.filter(in_service=True),
        required=False,
        widget=_only_for(Avis.UNFAVOURABLE, StaffTextSelect()),
    )
    rank = forms.IntegerField(
        label=_("Rank (complementary list)"),
        min_value=1,
        max_value=RANK_MAX,
        required=False,
        widget=_only_for(Avis.COMPLEMENTARY_LIST, forms.NumberInput()),
    )
    preselection_date = forms.DateField(
        label=_("Preselection date"),
        required=False,
        # ISO formats: a date or time input drops a localised value ("03/06/2027"), and "Dupliquer la dernière
        # décision" fills them from the latest decision.
        widget=_only_for(Avis.PRESELECTION, IsoDateInput()),
    )
    preselection_time = forms.TimeField(
        label=_("Preselection time"),
        required=False,
        widget=_only_for(Avis.PRESELECTION, forms.TimeInput(attrs={"type": "time"}, format="%H:%M")),
    )
    preselection_place = forms.CharField(
        label=_("Preselection place"), max_length=255, required=False, widget=_only_for(Avis.PRESELECTION)
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    after_appeal = forms.BooleanField(
        label=_("Decision after an appeal"),
        required=False,
        help_text=_("The candidate appealed and the commission decided again: the mail says so."),
    )

    class Media:
        js = ["js/decision_form.js"]

    def __init__(self, *args, bulk: bool = False, **kwargs):
        """``bulk``: the form is a selection's (a bulk action's page, even for one application selected), as the
        operation that builds it says (``operations._form``)."""
        super().__init__(*args, **kwargs)
        # In bulk, under BULK_DECISION_LOCK, no application of the selection has a validated decision: none has one
        # to appeal against (``staff.record_decision`` refuses it). Left out, but kept when posted ticked, to say so.
        self._appeal_locked = bulk and bool(parameters.get("BULK_DECISION_LOCK"))
        if not parameters.get("DECISION_APPEALS") or (self._appeal_locked and not self._appeal_ticked()):
            del self.fields["after_appeal"]
        # The comment reaches the candidate (mail, letter, their application) for the types that show it, and no one
        # else: said under it, above the « Bloc-notes » that is never shown. Read when the form is rendered, from the
        # rows of the decision types' list (``RowsReadOnceIterator``): no query more, none when a post is validated.
        decision_types = self.fields["decision_type"]
        assert isinstance(decision_types, DecisionTypeChoiceField)  # the class's own field
        # A Promise said as a str once rendered (``CommentHelp.__str__``), as a lazy translation is.
        self.fields["comment"].help_text = CommentHelp(decision_types)  # type: ignore[assignment]

    def _appeal_ticked(self) -> bool:
        """Whether the form was posted with « Décision après appel » ticked (as its field reads it)."""
        widget = self.fields["after_appeal"].widget
        return self.is_bound and bool(
            widget.value_from_datadict(self.data, self.files, self.add_prefix("after_appeal"))
        )

    def clean(self):
        data = super().clean()
        assert data is not None  # Django's Form/ModelForm.clean returns cleaned_data
        if data.get("after_appeal") and self._appeal_locked:
            self.add_error(
                "after_appeal",
                _(
                    "No application of this selection has a decision released to its candidate: there is no appeal "
                    "to examine. A decision after an appeal is entered from the application's dossier."
                ),
            )
        day = data.get("preselection_date")
        if day is not None:  # any kind of avis: a date and a time are combined whatever the kind (service_kwargs)
            today = timezone.localdate()
            first = today - datetime.timedelta(days=PRESELECTION_DAYS_BEFORE)
            last = today + datetime.timedelta(days=PRESELECTION_DAYS_AFTER)
            if not first <= day <= last:
                message = _("Enter a preselection date between %(first)s and %(last)s.")
                bounds = {"first": date_format(first, "SHORT_DATE_FORMAT")}
                bounds["last"] = date_format(last, "SHORT_DATE_FORMAT")
                self.add_error("preselection_date", message % bounds)
        decision_type = data.get("decision_type")
        if decision_type is None:
            return data
        avis = decision_type.avis
        if avis == Avis.UNFAVOURABLE and not data.get("refusal_reason"):
            self.add_error("refusal_reason", _("An unfavourable decision needs a reason."))
        if avis == Avis.COMPLEMENTARY_LIST and not data.get("rank") and "rank" not in self.errors:
            self.add_error("rank", _("A complementary-list decision needs a rank."))
        if avis == Avis.PRESELECTION:
            for field in ("preselection_date", "preselection_time", "preselection_place"):
                if not data.get(field) and field not in self.errors:  # one message per field: "invalid date" alone
                    self.add_error(field, _("Required for a preselection."))
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        preselection_at = None
        if data.get("preselection_date") and data.get("preselection_time"):
            preselection_at = timezone.make_aware(
                datetime.datetime.combine(data["preselection_date"], data["preselection_time"])
            )
        return {
            "decision_type": data["decision_type"],
            "refusal_reason": data.get("refusal_reason"),
            "rank": data.get("rank"),
            "preselection_at": preselection_at,
            "preselection_place": data.get("preselection_place") or "",
            "comment": data.get("comment") or "",
            "after_appeal": bool(data.get("after_appeal")),
        }


class DeadlinesForm(forms.Form):
    return_deadline = forms.DateField(label=_("New return deadline"), required=False, widget=IsoDateInput())
    confirmation_date = forms.DateField(label=_("New confirmation date"), required=False, widget=IsoDateInput())
    comment = forms.CharField(label=_("Comment"), required=False, max_length=500)

    def __init__(self, *args, application: Application | None = None, **kwargs) -> None:
        """``application``: one application's page (the operation's ``prefill``) shows, under each new date, the
        date the application has now, the one the candidate was given (``effective_return_deadline``,
        ``dates.confirmation_date``: a promotion's, the délai counted from the favourable decision, capped at the
        campaign's closing date), or « aucune »; read in one query. A selection's page shows none."""
        super().__init__(*args, **kwargs)
        if application is None:
            return
        dated = (
            Application.objects.select_related("formation", "campaign").with_current_decision().get(pk=application.pk)
        )
        current = {
            "return_deadline": effective_return_deadline(dated),
            "confirmation_date": current_confirmation_date(dated),
        }
        for name, day in current.items():
            self.fields[name].help_text = (
                gettext("Currently: %(date)s") % {"date": date_format(day, "SHORT_DATE_FORMAT")}
                if day
                else gettext("Currently: none")
            )

    def clean(self):
        data = super().clean()
        assert data is not None  # Django's Form/ModelForm.clean returns cleaned_data
        # Not after the campaign's closing date for candidates (a year mistyped, 31/12/9999: ``_new_date_refusal``),
        # said here next to the date: the operation's applications are the active campaign's (``editable_by``), read
        # once for the whole selection, only when a date is given. The service checks each application's again.
        campaign = None
        if data.get("return_deadline") or data.get("confirmation_date"):
            campaign = Campaign.objects.active().only("label", "ends_on").first()
        if data.get("return_deadline") and (
            refusal := new_return_deadline_refusal(data["return_deadline"], campaign=campaign)
        ):
            self.add_error("return_deadline", refusal)
        if data.get("confirmation_date") and (
            refusal := new_confirmation_date_refusal(data["confirmation_date"], campaign=campaign)
        ):
            self.add_error("confirmation_date", refusal)
        if not self.errors and not data.get("return_deadline") and not data.get("confirmation_date"):
            raise forms.ValidationError(_("Give a new return deadline or a new confirmation date."))
        return data


class ConfirmForm(forms.Form):
    """Operations without parameters (remind the unanswered forms…): only a confirmation."""


class ReleaseForm(forms.Form):
    """ "Valider les avis": a confirmation, carrying the decisions the page previewed (the selection's current ones
    when it was shown), so that a decision entered since is not validated and mailed unread
    (``release.validate_current_decision``)."""

    decisions = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_decisions(self) -> set[int] | None:
        if self.add_prefix("decisions") not in self.data:
            return None  # posted by something other than the page (a script): no preview to hold it to
        text = self.cleaned_data["decisions"]
        try:
            return {int(pk) for pk in text.split(",") if pk.strip()}
        except ValueError:
            raise forms.ValidationError(_("This page is out of date: open it again.")) from None

    @staticmethod
    def initial_for(decision_ids) -> dict[str, str]:
        return {"decisions": ",".join(str(pk) for pk in sorted(decision_ids))}


class TagsForm(forms.Form):
    """Tags to put on, or take off, every selected application; only the tags the user may use are offered."""

    add = forms.ModelMultipleChoiceField(
        label=_("Tags to add"), queryset=Tag.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    remove = forms.ModelMultipleChoiceField(
        label=_("Tags to remove"), queryset=Tag.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        add, remove = self.fields["add"], self.fields["remove"]
        assert isinstance(add, forms.ModelMultipleChoiceField)
        assert isinstance(remove, forms.ModelMultipleChoiceField)
        add.queryset = Tag.objects.usable_by(user).in_service().order_by("label")
        remove.queryset = Tag.objects.usable_by(user).order_by("label")  # out of service ones can still go
        if not remove.queryset.exists():  # two empty lists of boxes, then "choose a tag": say why, and where
            add.help_text = _("No tag can be used yet: tags are created in the back office's “Tags” page.")

    def clean(self):
        data = super().clean()
        assert data is not None  # Django's Form.clean returns cleaned_data
        if not (data.get("add") or data.get("remove")):
            raise forms.ValidationError(_("Choose a tag to add or to remove."))
        return data


class _ReferenceChoice(forms.ModelChoiceField):
    """Every code, the ones out of use marked: an application that holds one keeps it when its other values change
    (the service refuses to give it to another)."""

    def label_from_instance(self, obj):
        return str(obj) if obj.visible else _("%(row)s (no longer in use)") % {"row": obj}


class RegimeFeesForm(forms.Form):
    """eCandidat's "Régime" (GEST_REGIME) and "Montant / situation droits" (GEST_MONTANT) in one form: the régime,
    the fees, or both, set on each application of the selection (an empty field clears the value). On a selection
    nothing is chosen in advance: an empty fee field would clear every selected application's fees, so what to
    change is an explicit choice, and the form says that empty fields clear."""

    REGIME, FEES, BOTH = "regime", "fees", "both"
    change = forms.ChoiceField(
        label=_("What to change"),
        choices=[
            (REGIME, _("The registration regime only")),
            (FEES, _("The fee situation only")),
            (BOTH, _("Both")),
        ],
        initial=BOTH,
        widget=forms.RadioSelect,
    )
    regime = _ReferenceChoice(
        label=_("Registration regime"),
        queryset=ReferenceRegime.objects.order_by("code"),
        to_field_name="code",
        required=False,
        empty_label=_("None"),
    )
    fee_exemption = _ReferenceChoice(
        label=_("Fee exemption category"),
        queryset=ReferenceFeeExemption.objects.order_by("code"),
        to_field_name="code",
        required=False,
        empty_label=_("None"),
        help_text=_("The fee exemption category, sent to Apogée with the OPI."),
    )
    fee_exemption_comment = forms.CharField(
        label=_("Complement"),
        required=False,
        max_length=COMPLEMENT_MAX_LENGTH,
        help_text=_("At most 15 characters; only with a category."),
    )
    fee_amount = forms.DecimalField(
        label=_("Amount payable (euros)"),
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        localize=True,
        help_text=_("What remains payable, e.g. 170 or 170,50."),
        error_messages={"invalid": _("Enter an amount in euros, e.g. 170 or 170,50.")},
    )

    # One application's page: the values it showed, hidden (``shown_initial``). The service refuses to set values
    # over a colleague's change made since (``set_regime_and_fees``'s ``expected``): "Both" is preselected there,
    # and the fees a colleague entered were cleared unread when the page, which showed none, only had a régime
    # chosen. A selection shows no values: the fields are not in its form.
    shown_regime = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)
    shown_fee_exemption = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)
    shown_fee_exemption_comment = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)
    shown_fee_amount = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)

    # A code (``ReferenceRow.code``) and an amount as ``shown_initial`` writes them (ASCII digits: ``Decimal`` reads
    # others, and exponents), or empty.
    _SHOWN_CODE = re.compile(r"[^\x00-\x1f]{0,20}")
    _SHOWN_AMOUNT = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,2})?")

    def __init__(self, *args, application: Application | None = None, **kwargs):
        if application is not None and not kwargs.get("data") and not (args and args[0]):
            kwargs["initial"] = {
                "regime": application.regime_id,
                "fee_exemption": application.fee_exemption_id,
                "fee_exemption_comment": application.fee_exemption_comment,
                "fee_amount": application.fee_amount,
                **self.shown_initial(stored_values(application)),
            }
        super().__init__(*args, **kwargs)
        if application is None:  # a selection: the page shows no application's values
            for name in FIELDS:
                del self.fields[f"shown_{name}"]
            change = self.fields["change"]
            change.initial = None
            change.help_text = _(
                "Applied to every selected application: a field left empty clears that value on each of them."
            )
            change.error_messages["required"] = _("Choose what to change.")

    @staticmethod
    def shown_initial(values: dict) -> dict[str, str]:
        """The hidden values for ``values`` (``stored_values``): "" for none, the amount unlocalised."""
        return {f"shown_{name}": "" if values[name] is None else str(values[name]) for name in FIELDS}

    def _clean_shown(self) -> dict | None:
        """The values the page showed, as the service's ``expected``; None when the form was posted without them (a
        script, a selection): nothing to hold it to. A value the page cannot have written is an error."""
        names = [f"shown_{name}" for name in FIELDS if f"shown_{name}" in self.fields]
        posted = [self.add_prefix(name) in self.data for name in names]
        if not names or not any(posted):
            return None
        if any(name in self.errors for name in names):
            return None  # said beside the hidden field (a null character)
        text = {name: self.cleaned_data.get(f"shown_{name}") or "" for name in FIELDS}
        if (
            not all(posted)
            or not self._SHOWN_CODE.fullmatch(text["regime"])
            or not self._SHOWN_CODE.fullmatch(text["fee_exemption"])
            or len(text["fee_exemption_comment"]) > COMPLEMENT_MAX_LENGTH
            or (text["fee_amount"] and not self._SHOWN_AMOUNT.fullmatch(text["fee_amount"]))
        ):
            self.add_error(None, _("This page is out of date: open it again."))
            return None
        amount = Decimal(text["fee_amount"]) if text["fee_amount"] else None
        if amount is not None and amount > AMOUNT_MAX:
            self.add_error(None, _("This page is out of date: open it again."))
            return None
        return {
            "regime": text["regime"] or None,
            "fee_exemption": text["fee_exemption"] or None,
            "fee_exemption_comment": text["fee_exemption_comment"],
            "fee_amount": amount,
        }

    def clean(self):
        data = super().clean()
        assert data is not None
        if (
            data.get("change") in (self.FEES, self.BOTH)
            and (data.get("fee_exemption_comment") or "").strip()
            and data.get("fee_exemption") is None
            and "fee_exemption" not in self.errors
        ):
            self.add_error("fee_exemption_comment", _("A complement needs a fee exemption category."))
        data["expected"] = self._clean_shown()
        return data

    def _typed(self) -> dict:
        """What the form holds, as ``stored_values`` says it."""
        data = self.cleaned_data
        regime, fee_exemption = data.get("regime"), data.get("fee_exemption")
        return {
            "regime": regime.code if regime is not None else None,
            "fee_exemption": fee_exemption.code if fee_exemption is not None else None,
            "fee_exemption_comment": " ".join((data.get("fee_exemption_comment") or "").split()),
            "fee_amount": data.get("fee_amount"),
        }

    def rebound(self, application: Application) -> "RegimeFeesForm":
        """The same form as posted, validated again, after a refusal: holding the values ``application`` has now
        (hidden, and in each field left as the page showed it), and what was typed in the others. Nothing is lost:
        a second "Confirm", the message read, sets what was typed and keeps the colleague's other values."""
        now = stored_values(application)
        expected = self.cleaned_data.get("expected") or {}
        typed = self._typed()
        data = QueryDict(mutable=True)
        data.update(self.data)
        for name in FIELDS:
            if name in expected and typed[name] == expected[name] and name not in self.errors:
                value = now[name]
                data[self.add_prefix(name)] = "" if value is None else localize_input(value)
        for name, value in self.shown_initial(now).items():
            data[self.add_prefix(name)] = value
        form = type(self)(data, prefix=self.prefix, application=application)
        form.is_valid()
        return form

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        kwargs: dict = dict.fromkeys(FIELDS, KEEP)
        if data["change"] in (self.REGIME, self.BOTH):
            kwargs["regime"] = data["regime"]
        if data["change"] in (self.FEES, self.BOTH):
            kwargs["fee_exemption"] = data["fee_exemption"]
            kwargs["fee_exemption_comment"] = data["fee_exemption_comment"]
            kwargs["fee_amount"] = data["fee_amount"]
        kwargs["expected"] = data.get("expected")
        return kwargs
