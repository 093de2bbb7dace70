"""Régime d'inscription and situation des droits of an application (eCandidat GEST_REGIME, GEST_MONTANT, shown with
GEST_IS_UTILISE_REG_STU = SIS_REGIME_ENTRY): the nomenclatures, the service, the back office's bulk action and
page, the export columns. The Apogée OPI columns are tested in opi/test_apogee_file.py."""

import html
import io
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains

from applications import export_columns
from applications.enums import EventKind
from applications.models import Application, ReferenceFeeExemption, ReferenceRegime
from applications.services import staff
from applications.services.registration import KEEP, set_regime_and_fees, stored_values
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import change_url, csv_rows, operation_url, post_export
from ecandidat.exceptions import BusinessRuleError, InvalidTransition
from ecandidat.models import OutboundEmail
from ecandidat.parameters import set_parameters
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:applications_application_changelist"
QUERIES_REVIEW_PAGE = 34
QUERIES_STALE_PAGE = 22
QUERIES_SET_FROM_PAGE = 16


@pytest.fixture(autouse=True)
def _in_use(settings):
    settings.SIS_REGIME_ENTRY = True


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


def regime(code):
    return ReferenceRegime.objects.get(code=code)


def exemption(code):
    return ReferenceFeeExemption.objects.get(code=code)


# --- the nomenclatures ------------------------------------------------------------------------------------------


def test_the_migration_seeds_the_regimes_and_exemption_categories():
    assert list(ReferenceRegime.objects.values_list("code", "label")) == [
        ("1", "Formation initiale hors apprentissage"),
        ("2", "Reprise d'études non financée sans convention"),
        ("3", "Formation continue hors contrat de professionnalisation"),
        ("4", "Contrat de professionnalisation"),
        ("5", "Formation initiale en apprentissage"),
    ]
    assert ReferenceFeeExemption.objects.filter(visible=True).count() == 6
    assert all(len(code) <= 2 for code in ReferenceFeeExemption.objects.values_list("code", flat=True))


@pytest.mark.parametrize(
    ("persona", "expected"),
    # The readers (commission members, read-only staff) are never offered the lists: not found, as an outsider.
    [("central_manager", 200), ("centre_manager", 403), ("commission_member", 404), ("read_only", 404)],
    indirect=["persona"],
)
def test_only_the_central_office_keeps_the_lists(client, persona, expected, django_assert_max_num_queries):
    client.force_login(persona)
    url = reverse("admin:applications_referenceregime_change", args=[regime("1").pk])

    with django_assert_max_num_queries(12):
        response = client.get(url)

    assert response.status_code == expected


def test_the_central_office_hides_a_code_but_neither_renames_nor_deletes_it(client, central_manager):
    client.force_login(central_manager)
    row = regime("2")
    url = reverse("admin:applications_referenceregime_change", args=[row.pk])

    response = client.post(url, {"code": "9", "label": "Reprise d'études", "visible": ""})

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.code, row.label, row.visible) == ("2", "Reprise d'études", False)
    delete = reverse("admin:applications_referenceregime_delete", args=[row.pk])
    assert client.get(delete).status_code == 403


# --- the service --------------------------------------------------------------------------------------------------


def test_staff_set_the_regime_and_fees_with_a_french_history(application, centre_manager, settings):
    settings.LANGUAGE_CODE = "fr"

    set_regime_and_fees(
        application,
        actor=centre_manager,
        regime=regime("1"),
        fee_exemption=exemption("BO"),
        fee_exemption_comment="  échelon   7 ",
        fee_amount=Decimal("1234.5"),
    )

    application.refresh_from_db()
    assert (application.regime_id, application.fee_exemption_id) == ("1", "BO")
    assert (application.fee_exemption_comment, application.fee_amount) == ("échelon 7", Decimal("1234.50"))
    event = application.events.get(kind=EventKind.REGIME_FEES)
    assert event.actor == centre_manager
    assert event.comment.startswith("Régime d'inscription : — → Formation initiale hors apprentissage (1) ; ")
    assert "Situation des droits : — → Boursier sur critères sociaux (BO)" in event.comment
    assert "Complément : — → « échelon 7 »" in event.comment
    assert event.comment.endswith("Montant à charge : — → 1\xa0234,50 euros")
    assert not OutboundEmail.objects.exists()  # the candidate is not mailed


def test_what_is_kept_stays_and_only_the_change_is_written(application, centre_manager, settings):
    settings.LANGUAGE_CODE = "fr"
    set_regime_and_fees(application, actor=centre_manager, regime=regime("4"), fee_amount=Decimal(170))

    set_regime_and_fees(application, actor=centre_manager, regime=regime("5"))

    application.refresh_from_db()
    assert (application.regime_id, application.fee_amount) == ("5", Decimal("170.00"))
    last = application.events.filter(kind=EventKind.REGIME_FEES).latest("id")
    assert last.comment == (
        "Régime d'inscription : Contrat de professionnalisation (4) → Formation initiale en apprentissage (5)"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"fee_amount": Decimal("-1")}, "The amount cannot be negative."),
        ({"fee_amount": Decimal("10.005")}, "The amount has at most two decimals (cents)."),
        ({"fee_amount": Decimal("100000000")}, "The amount cannot exceed 99,999,999.99 euros."),
        ({"fee_exemption_comment": "sans catégorie"}, "A complement needs a fee exemption category."),
        ({"fee_exemption_comment": "x" * 16, "fee_exemption": KEEP}, "at most 15 characters"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(application, centre_manager, values, message):
    with pytest.raises(BusinessRuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        set_regime_and_fees(application, actor=centre_manager, **values)

    application.refresh_from_db()
    assert (application.fee_amount, application.fee_exemption_comment) == (None, "")
    assert not application.events.filter(kind=EventKind.REGIME_FEES).exists()


def test_nothing_to_change_cancelled_or_not_in_use_is_refused(application, centre_manager, settings):
    set_regime_and_fees(application, actor=centre_manager, regime=regime("1"))
    with pytest.raises(InvalidTransition, match="nothing was done"):
        set_regime_and_fees(application, actor=centre_manager, regime=regime("1"))

    settings.SIS_REGIME_ENTRY = False
    with pytest.raises(BusinessRuleError, match="turns it on in Parameters"):
        set_regime_and_fees(application, actor=centre_manager, regime=regime("2"))

    settings.SIS_REGIME_ENTRY = True
    Application.objects.filter(pk=application.pk).update(cancelled_at="2026-01-01T00:00:00Z", dossier_status="AT")
    with pytest.raises(InvalidTransition, match="cancelled"):
        set_regime_and_fees(application, actor=centre_manager, regime=regime("2"))
    assert application.events.filter(kind=EventKind.REGIME_FEES).count() == 1


def test_a_code_out_of_use_is_kept_where_it_is_but_not_given(application, formation, campaign, centre_manager):
    set_regime_and_fees(application, actor=centre_manager, regime=regime("3"))
    ReferenceRegime.objects.filter(code="3").update(visible=False)

    # The holder keeps it while its fees change; another application cannot get it.
    set_regime_and_fees(application, actor=centre_manager, regime=regime("3"), fee_amount=Decimal(0))
    other = make_application(formation, campaign=campaign)
    with pytest.raises(BusinessRuleError, match="no longer in use"):
        set_regime_and_fees(other, actor=centre_manager, regime=regime("3"))


def test_the_database_refuses_a_negative_amount_and_a_complement_without_category(application):
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.filter(pk=application.pk).update(fee_amount=Decimal("-0.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.filter(pk=application.pk).update(fee_exemption_comment="abc")


# --- the back office: bulk action, one application's page ---------------------------------------------------------


def offered_actions(client):
    action_form = client.get(reverse(CHANGELIST)).context["action_form"]
    return {name for name, _label in action_form.fields["action"].choices if name} if action_form else set()


@pytest.mark.parametrize(
    ("persona", "offered"),
    [
        ("centre_manager", True),
        ("central_manager", True),
        ("other_centre_manager", True),  # offered: it acts on their own centre's applications only
        ("commission_member", False),
        ("read_only", False),
    ],
    indirect=["persona"],
)
def test_the_bulk_action_is_offered_to_managers_when_in_use(client, persona, application, offered, settings):
    client.force_login(persona)
    assert ("action_regime_fees" in offered_actions(client)) is offered

    settings.SIS_REGIME_ENTRY = False
    assert "action_regime_fees" not in offered_actions(client)


def bulk(client, applications, **fields):
    return client.post(
        reverse(CHANGELIST),
        {"action": "action_regime_fees", "_selected_action": [a.pk for a in applications], **fields},
        language="fr",
    )


def test_the_bulk_action_asks_then_sets_each_application(
    client, centre_manager, formation, campaign, django_assert_num_queries
):
    first = make_application(formation, campaign=campaign)
    second = make_application(formation, campaign=campaign)
    set_regime_and_fees(second, actor=centre_manager, fee_amount=Decimal(90))
    client.force_login(centre_manager)

    with django_assert_num_queries(20):
        page = bulk(client, [first, second], index="0")
    assert page.status_code == 200
    assertContains(page, "Situation des droits")
    assertContains(page, "<legend>À modifier</legend>")  # the radio buttons are a group with its name

    with django_assert_num_queries(31):
        done = bulk(client, [first, second], apply="1", change="regime", regime="5")

    assert done.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.regime_id, second.regime_id) == ("5", "5")
    assert second.fee_amount == Decimal("90.00")  # "the régime only": the fees stay
    assert second.events.filter(kind=EventKind.REGIME_FEES).latest("id").actor == centre_manager


def test_on_a_selection_what_to_change_is_an_explicit_choice(client, centre_manager, application):
    """The fee fields of a selection start empty: "Both" chosen in advance would clear every selected
    application's fees when only a régime is given (review finding)."""
    set_regime_and_fees(application, actor=centre_manager, fee_amount=Decimal(90))
    client.force_login(centre_manager)

    page = bulk(client, [application], index="0")
    response = bulk(client, [application], apply="1", regime="5")

    assertNotContains(page, "checked")
    assertContains(page, "un champ laissé vide efface cette valeur")
    assert response.status_code == 200
    assert response.context["form"].errors["change"] == ["Choisissez ce qu'il faut modifier."]
    # The group of radio buttons is described by its help and its error (the error list carries that id).
    assertContains(response, 'aria-describedby="id_change_helptext id_change_error"')
    assertContains(response, 'id="id_change_error"')
    application.refresh_from_db()
    assert (application.regime_id, application.fee_amount) == (None, Decimal("90.00"))


def test_bad_input_is_shown_next_to_the_field_in_french(client, centre_manager, application):
    client.force_login(centre_manager)

    response = bulk(client, [application], apply="1", change="fees", fee_amount="12,345", fee_exemption_comment="abc")

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["fee_exemption_comment"] == ["Un complément demande une catégorie d'exonération."]
    assert "fee_amount" in form.errors
    assertContains(response, 'aria-invalid="true"')
    application.refresh_from_db()
    assert (application.fee_amount, application.fee_exemption_comment) == (None, "")


def test_a_french_amount_with_a_comma_is_read(client, centre_manager, application):
    client.force_login(centre_manager)

    response = bulk(
        client,
        [application],
        apply="1",
        change="fees",
        fee_exemption="EP",
        fee_exemption_comment="50 %",
        fee_amount="85,50",
    )

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.fee_exemption_id, application.fee_exemption_comment) == ("EP", "50 %")
    assert application.fee_amount == Decimal("85.50")


def test_an_outsider_cannot_set_a_guessed_application(client, other_centre_manager, application):
    client.force_login(other_centre_manager)

    assert client.get(operation_url(application, "regime_fees")).status_code == 404
    bulk(client, [application], apply="1", change="regime", regime="1")

    application.refresh_from_db()
    assert application.regime_id is None


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 403),
        ("central_manager", 200),
        ("read_only", 403),
    ],
    indirect=["persona"],
)
def test_one_application_page_persona_matrix(client, persona, application, expected):
    client.force_login(persona)

    assert client.get(operation_url(application, "regime_fees")).status_code == expected
    client.post(operation_url(application, "regime_fees"), {"change": "both", "regime": "2", "fee_amount": "10"})

    application.refresh_from_db()
    assert (application.regime_id == "2") is (expected == 200)


def test_one_application_page_shows_the_current_values(client, centre_manager, application, django_assert_num_queries):
    set_regime_and_fees(application, actor=centre_manager, regime=regime("4"), fee_amount=Decimal("12.5"))
    client.force_login(centre_manager)

    with django_assert_num_queries(11):
        response = client.get(operation_url(application, "regime_fees"))

    assert response.status_code == 200
    form = response.context["form"]
    assert (form["regime"].value(), form["fee_amount"].value()) == ("4", Decimal("12.50"))


def test_the_page_is_not_found_when_not_in_use(client, centre_manager, application, settings):
    settings.SIS_REGIME_ENTRY = False
    client.force_login(centre_manager)

    assert client.get(operation_url(application, "regime_fees")).status_code == 404


def test_the_review_page_shows_the_regime_and_fees_only_when_in_use(
    client, centre_manager, application, settings, django_assert_num_queries
):
    set_regime_and_fees(
        application,
        actor=centre_manager,
        regime=regime("5"),
        fee_exemption=exemption("EP"),
        fee_exemption_comment="50 %",
        fee_amount=Decimal("1234.5"),
    )
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_REVIEW_PAGE):  # the régime and fees cost no query: joined
        response = client.get(change_url(application), language="fr")

    assertContains(response, 'id="regime-fees"')
    assertContains(response, "Formation initiale en apprentissage (5)")
    assertContains(response, "Exonération partielle (EP)</strong> (50 %)")
    assertContains(response, "1\xa0234,50 €")
    assertContains(response, reverse("admin:applications_application_operation", args=[application.pk, "regime_fees"]))

    settings.SIS_REGIME_ENTRY = False
    with django_assert_num_queries(QUERIES_REVIEW_PAGE):
        hidden = client.get(change_url(application))
    assertNotContains(hidden, 'id="regime-fees"')
    assertNotContains(hidden, "regime_fees")


def test_a_validated_decision_does_not_block_the_fees(client, centre_manager, application):
    """Unlike the type de traitement, eCandidat sets the régime and fees at any time (they matter most once
    admitted, for the OPI)."""
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decision, actor=centre_manager)

    set_regime_and_fees(application, actor=centre_manager, regime=regime("1"))

    application.refresh_from_db()
    assert application.regime_id == "1"


# --- the export -------------------------------------------------------------------------------------------------


def test_the_export_columns(client, centre_manager, application):
    set_regime_and_fees(
        application,
        actor=centre_manager,
        regime=regime("4"),
        fee_exemption=exemption("BO"),
        fee_exemption_comment="éch. 2",
        fee_amount=Decimal("170.5"),
    )
    keys = ["numero", "regime", "regime_code", "fee_exemption", "fee_exemption_code", "fee_exemption_comment"]
    client.force_login(centre_manager)

    header, row = csv_rows(post_export(client, [*keys, "fee_amount"]))

    assert dict(zip(header, row, strict=True)) == {
        "Dossier number": application.candidate.user.username,
        "Registration regime": "Contrat de professionnalisation",
        "Registration regime (code)": "4",
        "Fee exemption category": "Boursier sur critères sociaux",
        "Fee exemption category (code)": "BO",
        "Fee exemption complement": "éch. 2",
        "Amount payable (euros)": "170,50",
    }
    assert {"regime", "fee_amount"} <= set(export_columns.COLUMNS)


def test_the_xlsx_export_keeps_the_amount_a_number(client, centre_manager, application):
    set_regime_and_fees(application, actor=centre_manager, fee_amount=Decimal("170.5"))
    client.force_login(centre_manager)

    response = post_export(client, ["numero", "fee_amount", "regime"], fmt="xlsx")

    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    # In the chooser's order: the régime, then the amount.
    assert [cell.value for cell in sheet[1]] == ["Dossier number", "Registration regime", "Amount payable (euros)"]
    assert sheet["B2"].value in (None, "")
    assert sheet["C2"].value == 170.5


def test_the_chooser_offers_the_regime_and_fees_only_when_in_use(
    client, centre_manager, application, settings, django_assert_num_queries
):
    client.force_login(centre_manager)
    chooser = reverse("admin:applications_application_export_columns")

    assertContains(client.get(chooser), 'value="fee_amount"')

    settings.SIS_REGIME_ENTRY = False
    with django_assert_num_queries(8):
        response = client.get(chooser)
    assertNotContains(response, 'value="fee_amount"')
    # A choice saved while it was in use is left out, not an error.
    header, _row = csv_rows(post_export(client, ["numero", "regime", "fee_amount"]))
    assert header == ["Dossier number"]
    only_hidden = client.post(chooser, {"columns": ["fee_amount"], "fmt": "csv", "filters": ""})
    assert only_hidden.status_code == 200
    assert only_hidden.context["form"].errors["columns"] == ["Tick at least one column."]


def test_switched_on_in_the_back_office_the_entry_is_open_at_once(
    application, centre_manager, admin_user, settings, django_capture_on_commit_callbacks
):
    # A live change (ecandidat.parameters): the environment has it off; the central office switches it on.
    settings.SIS_REGIME_ENTRY = False
    with pytest.raises(BusinessRuleError, match="turns it on in Parameters"):
        set_regime_and_fees(application, actor=centre_manager, regime=regime("1"))

    with django_capture_on_commit_callbacks(execute=True):
        set_parameters(actor=admin_user, values={"SIS_REGIME_ENTRY": True})
    set_regime_and_fees(application, actor=centre_manager, regime=regime("1"))

    application.refresh_from_db()
    assert application.regime.code == "1"


# --- one application's page over a colleague's change ------------------------------------------------------------


def shown_values(page: str) -> dict[str, str]:
    """The hidden values the page holds: the régime and fees as it showed them."""
    # Django writes no value attribute for an empty one.
    shown = dict(re.findall(r'<input type="hidden" name="(shown_[a-z_]+)"(?: value="([^"]*)")?', page))
    assert set(shown) == {"shown_regime", "shown_fee_exemption", "shown_fee_exemption_comment", "shown_fee_amount"}
    return {name: html.unescape(value) for name, value in shown.items()}


def test_a_stale_page_does_not_clear_the_fees_a_colleague_entered(
    client, centre_manager, central_manager, application, django_assert_num_queries
):
    """The reviewer's proof: A opens the page (no régime, no fees); a colleague sets the fees (« EP », « 50 % »,
    85,50 €); A chooses a régime and confirms, the other fields as shown. Before: 302, a success message, and the
    colleague's fees cleared ("Both" is preselected and every field sent as a value to set)."""
    client.force_login(centre_manager)
    page = client.get(operation_url(application, "regime_fees")).content.decode()
    shown = shown_values(page)
    assert shown == dict.fromkeys(shown, "")
    set_regime_and_fees(
        application,
        actor=central_manager,
        fee_exemption=exemption("EP"),
        fee_exemption_comment="50 %",
        fee_amount=Decimal("85.50"),
    )
    typed = {"change": "both", "regime": "5", "fee_exemption": "", "fee_exemption_comment": "", "fee_amount": ""}

    with django_assert_num_queries(QUERIES_STALE_PAGE):
        refused = client.post(operation_url(application, "regime_fees"), {**typed, **shown}, language="fr")

    application.refresh_from_db()
    assert (application.regime_id, application.fee_exemption_id) == (None, "EP")
    assert (application.fee_exemption_comment, application.fee_amount) == ("50 %", Decimal("85.50"))
    assert application.events.filter(kind=EventKind.REGIME_FEES).count() == 1  # the colleague's only
    # The form again, the refusal above it, each value then and now; what was typed kept, the others as they are.
    assert refused.status_code == 200
    assert not list(get_messages(refused.wsgi_request))
    form = refused.context["form"]
    refusal = (
        "Le régime d'inscription et les droits de cette candidature ont changé depuis l'affichage de la page "
        "(Situation des droits : « — » alors, « Exonération partielle (EP) » maintenant ; Complément : « — » "
        "alors, « 50 % » maintenant ; Montant à charge : « — » alors, « 85,50 euros » maintenant) : rien n'a été "
        "modifié. Vérifiez-les avant de les enregistrer à nouveau."
    )
    assert form.non_field_errors() == [refusal]
    assert form["regime"].value() == "5"
    assert (form["fee_exemption"].value(), form["fee_exemption_comment"].value()) == ("EP", "50 %")
    assert form["fee_amount"].value() == "85,50"
    text = refused.content.decode()
    assert shown_values(text) == {
        "shown_regime": "",
        "shown_fee_exemption": "EP",
        "shown_fee_exemption_comment": "50 %",
        "shown_fee_amount": "85.50",
    }

    # A second « Confirm », the message read, sets the régime and keeps the colleague's fees.
    again = client.post(
        operation_url(application, "regime_fees"),
        {**typed, "fee_exemption": "EP", "fee_exemption_comment": "50 %", "fee_amount": "85,50", **shown_values(text)},
        language="fr",
    )

    assert again.status_code == 302
    application.refresh_from_db()
    assert (application.regime_id, application.fee_exemption_id) == ("5", "EP")
    assert (application.fee_exemption_comment, application.fee_amount) == ("50 %", Decimal("85.50"))


def test_a_page_still_current_sets_the_values(client, centre_manager, application, django_assert_num_queries):
    set_regime_and_fees(application, actor=centre_manager, fee_exemption=exemption("EP"), fee_amount=Decimal("12.5"))
    client.force_login(centre_manager)
    shown = shown_values(client.get(operation_url(application, "regime_fees")).content.decode())
    assert shown["shown_fee_amount"] == "12.50"

    with django_assert_num_queries(QUERIES_SET_FROM_PAGE):
        response = client.post(
            operation_url(application, "regime_fees"),
            {"change": "both", "regime": "1", "fee_exemption": "EP", "fee_amount": "12,50", **shown},
            language="fr",
        )

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.regime_id, application.fee_exemption_id, application.fee_amount) == (
        "1",
        "EP",
        Decimal("12.50"),
    )


def test_the_regime_only_is_not_refused_for_fees_changed_meanwhile(
    client, centre_manager, central_manager, application
):
    """What the page does not set is not held to what it showed: "the régime only" keeps the colleague's fees."""
    client.force_login(centre_manager)
    shown = shown_values(client.get(operation_url(application, "regime_fees")).content.decode())
    set_regime_and_fees(application, actor=central_manager, fee_amount=Decimal(90))

    response = client.post(
        operation_url(application, "regime_fees"), {"change": "regime", "regime": "2", "fee_amount": "", **shown}
    )

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.regime_id, application.fee_amount) == ("2", Decimal("90.00"))


@pytest.mark.parametrize(
    "forged",
    [
        {"shown_fee_amount": "abc"},
        {"shown_fee_amount": "1E+999999"},
        {"shown_fee_amount": "NaN"},
        {"shown_fee_amount": "٤٢"},
        {"shown_fee_amount": "999999999.99"},
        {"shown_fee_amount": "-1"},
        {"shown_regime": "x" * 21},
        {"shown_fee_exemption": "E\x01"},
        {"shown_fee_exemption_comment": "y" * 16},
        {"shown_regime": None},  # one of the four missing
    ],
)
def test_a_forged_shown_value_is_a_form_error(client, centre_manager, application, forged):
    client.force_login(centre_manager)
    shown = dict.fromkeys(
        ["shown_regime", "shown_fee_exemption", "shown_fee_exemption_comment", "shown_fee_amount"], ""
    )
    data = {"change": "both", "regime": "1", **shown, **forged}
    data = {name: value for name, value in data.items() if value is not None}

    response = client.post(operation_url(application, "regime_fees"), data, language="en")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["This page is out of date: open it again."]
    application.refresh_from_db()
    assert application.regime_id is None


def test_a_null_character_in_a_shown_value_is_a_form_error(client, centre_manager, application):
    client.force_login(centre_manager)
    shown = dict.fromkeys(["shown_regime", "shown_fee_exemption", "shown_fee_exemption_comment"], "")

    response = client.post(
        operation_url(application, "regime_fees"),
        {"change": "both", "regime": "1", **shown, "shown_fee_amount": "1\x00"},
    )

    assert response.status_code == 200
    assert "shown_fee_amount" in response.context["form"].errors
    application.refresh_from_db()
    assert application.regime_id is None


def test_a_forged_code_the_row_never_held_is_refused_by_the_service(client, centre_manager, application):
    """A code that fits but that the application never held: refused as a change meanwhile, named as posted."""
    client.force_login(centre_manager)
    shown = dict.fromkeys(["shown_fee_exemption", "shown_fee_exemption_comment", "shown_fee_amount"], "")

    response = client.post(
        operation_url(application, "regime_fees"),
        {"change": "both", "regime": "1", "shown_regime": "ZZ", **shown},
        language="en",
    )

    assert response.status_code == 200
    [error] = response.context["form"].non_field_errors()
    assert "(Registration regime: “ZZ” then, “—” now): nothing was changed." in error
    application.refresh_from_db()
    assert application.regime_id is None


def test_the_service_refuses_values_changed_since_they_were_shown(application, centre_manager, central_manager):
    shown = stored_values(application)
    set_regime_and_fees(application, actor=central_manager, regime=regime("3"))

    with translation.override("en"), pytest.raises(InvalidTransition) as refusal:
        set_regime_and_fees(application, actor=centre_manager, regime=regime("4"), expected=shown)

    assert str(refusal.value) == (
        "The registration regime and fees of this application have changed since the page was shown (Registration "
        "regime: “—” then, “Formation continue hors contrat de professionnalisation (3)” now): nothing was "
        "changed. Check them before saving again."
    )
    application.refresh_from_db()
    assert application.regime_id == "3"
    # The values now shown are accepted.
    set_regime_and_fees(application, actor=centre_manager, regime=regime("4"), expected=stored_values(application))
    application.refresh_from_db()
    assert application.regime_id == "4"


def test_the_selection_form_has_no_shown_values(client, centre_manager, application):
    client.force_login(centre_manager)

    page = bulk(client, [application], index="0")

    assert "shown_" not in page.content.decode()
