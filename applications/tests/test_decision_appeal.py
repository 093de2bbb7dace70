"""A decision given after an appeal (eCandidat "Appel", SCOL_IS_APPEL → DECISION_APPEALS): marked when entered, said
in its mail (variable ``appeal_sentence``, eCandidat complementAppel) in the candidate's language, shown on the
candidate's recap, exported; refused when the institution does not use appeals."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.asserts import assertContains, assertNotContains

from applications.admin.forms import DecisionForm
from applications.enums import EventKind
from applications.export_columns import export_rows
from applications.models import Application
from applications.services import candidature, staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import mails
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import MailTemplate
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

FRENCH_SENTENCE = "Cette décision a été rendue après examen de votre recours."


@pytest.fixture
def application(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    application.candidate.preferred_language = "fr"
    application.candidate.save(update_fields=["preferred_language"])
    return application


def _refuse(application, actor, **kwargs):
    reason, _created = RefusalReason.objects.get_or_create(code="NIV", defaults={"label": "Niveau insuffisant"})
    return decide(application, Avis.UNFAVOURABLE, actor=actor, refusal_reason=reason, **kwargs)


def _refuse_on_appeal(application, actor):
    """The candidate's first decision, unfavourable, released; then the commission's, again unfavourable, on their
    appeal: a decision after an appeal follows a released one (``staff.record_decision`` refuses it on a first)."""
    _refuse(application, actor)
    return _refuse(application, actor, after_appeal=True)


def test_the_decision_is_marked_and_its_history_says_so(application, centre_manager):
    with translation.override("en"):  # the member of staff works in English: the history stays the institution's
        decision = _refuse_on_appeal(application, centre_manager)

    assert decision.after_appeal
    entered = application.events.filter(kind=EventKind.DECISION_ENTERED).latest("pk")
    assert entered.comment == f"{decision.decision_type.label} (après appel)"


def test_the_mail_says_it_in_the_candidates_language(application, centre_manager):
    with translation.override("en"):  # the member of staff works in English
        _refuse_on_appeal(application, centre_manager)

    first, appeal = mails("AVIS_DEFAVORABLE")
    assert FRENCH_SENTENCE not in first.body
    assert FRENCH_SENTENCE in appeal.body


def test_a_decision_without_appeal_says_nothing_of_it(application, centre_manager):
    _refuse(application, centre_manager)

    [mail] = mails("AVIS_DEFAVORABLE")
    assert "recours" not in mail.body


def test_the_central_offices_own_text_gets_the_sentence_in_the_mails_language(application, centre_manager):
    MailTemplate.objects.create(
        code="AVIS_DEFAVORABLE",
        language="fr",
        subject="Décision",
        body="Décision : ${decision_label}. ${appeal_sentence}",
    )

    with translation.override("en"):
        _refuse_on_appeal(application, centre_manager)

    mail = mails("AVIS_DEFAVORABLE")[-1]  # the appeal's
    assert mail.body.strip() == f"Décision : Unfavourable. {FRENCH_SENTENCE}"


def test_the_recap_shows_it_once_validated(client, application, centre_manager, django_assert_num_queries):
    _refuse_on_appeal(application, centre_manager)
    client.force_login(application.candidate.user)

    with django_assert_num_queries(8):  # as without: the flag comes with the decision's details
        response = client.get(reverse("applications:detail", args=[application.public_id]), language="fr")

    assertContains(response, "(décision rendue après votre recours)")


def test_the_recap_shows_nothing_of_an_unvalidated_one(client, application, centre_manager):
    _refuse(application, centre_manager)
    staff.record_decision(
        application,
        decision_type=decision_type(Avis.FAVOURABLE),
        actor=centre_manager,
        after_appeal=True,
    )
    client.force_login(application.candidate.user)

    response = client.get(reverse("applications:detail", args=[application.public_id]), language="fr")

    assertNotContains(response, "recours")


def test_the_export_has_a_column(application, centre_manager):
    _refuse_on_appeal(application, centre_manager)
    [row] = export_rows(Application.objects.filter(pk=application.pk), ["decision_after_appeal", "decision"])

    assert row == ["yes", "Unfavourable"]


def test_off_the_form_has_no_field_and_the_service_refuses(settings, application, centre_manager):
    settings.DECISION_APPEALS = False

    assert "after_appeal" not in DecisionForm().fields
    with pytest.raises(BusinessRuleError, match="Appeals are not in use"):
        _refuse(application, centre_manager, after_appeal=True)
    assert not application.decisions.exists()


def test_on_the_form_passes_it_to_the_service(centre_manager):
    form = DecisionForm(
        {"decision_type": decision_type(Avis.FAVOURABLE).pk, "after_appeal": "on", "comment": ""},
    )

    assert form.is_valid(), form.errors
    assert form.service_kwargs()["after_appeal"] is True


# --- the appeal of a candidate withdrawn by the nightly batch -------------------------------------------------------


def _withdrawn_overnight(application, actor):
    """A favourable decision the candidate did not confirm by its date: the nightly batch withdrew it as it does
    (``nightly._withdraw``: no actor), the mails it queued cancelled."""
    decide(application, Avis.FAVOURABLE, actor=actor)
    Application.objects.filter(pk=application.pk).update(accepted=False, answered_at=timezone.now(), answered_by=None)
    application.refresh_from_db()


def _readmitted_on_appeal(application, actor):
    staff.extend_deadlines(
        application,
        actor=actor,
        confirmation_date=timezone.localdate() + datetime.timedelta(days=100),
        comment="recours",
    )
    return decide(application, Avis.FAVOURABLE, actor=actor, after_appeal=True)


def test_a_favourable_decision_after_appeal_lifts_the_automatic_withdrawal(application, centre_manager):
    """The appeal's usual case, the candidate who missed the date: the decision was validated, nothing was mailed and
    « Confirmer » refused « vous avez déjà répondu ». The withdrawal is now lifted, the decision mailed with its new
    date, and the candidate confirms."""
    _withdrawn_overnight(application, centre_manager)

    with translation.override("en"):  # the member of staff works in English: the history stays the institution's
        _readmitted_on_appeal(application, centre_manager)

    application.refresh_from_db()
    assert (application.accepted, application.answered_at, application.answered_by) == (None, None, None)
    assert len(mails("AVIS_FAVORABLE")) == 2  # the first decision's, and the appeal's
    validated = application.events.filter(kind=EventKind.DECISION_VALIDATED).latest("pk")
    assert "désistement automatique est levé" in validated.comment
    entered = application.events.filter(kind=EventKind.DECISION_ENTERED).latest("pk")
    assert "sera levé une fois cette décision validée" in entered.comment

    candidature.confirm_application(application=application, actor=application.candidate.user)
    application.refresh_from_db()
    assert application.accepted is True


def test_the_candidates_own_withdrawal_stays_whatever_the_appeal(application, centre_manager):
    """A withdrawal the candidate made (or staff in their name) is irreversible (§1.12): the appeal's decision is
    recorded, its history says the withdrawal stands, and no favourable mail asks them to confirm."""
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    candidature.withdraw_application(application=application, actor=application.candidate.user)

    _readmitted_on_appeal(application, centre_manager)

    application.refresh_from_db()
    assert application.accepted is False
    assert len(mails("AVIS_FAVORABLE")) == 1  # the first decision's only
    validated = application.events.filter(kind=EventKind.DECISION_VALIDATED).latest("pk")
    assert "désistement du candidat est maintenu" in validated.comment
    with pytest.raises(BusinessRuleError):
        candidature.confirm_application(application=application, actor=application.candidate.user)


def test_a_decision_without_appeal_leaves_the_automatic_withdrawal(application, centre_manager):
    _withdrawn_overnight(application, centre_manager)
    staff.extend_deadlines(
        application, actor=centre_manager, confirmation_date=timezone.localdate() + datetime.timedelta(days=100)
    )

    decide(application, Avis.FAVOURABLE, actor=centre_manager)

    application.refresh_from_db()
    assert application.accepted is False
