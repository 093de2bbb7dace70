"""The applications back office: personas × pages and operations, bulk actions, pieces, exports, query counts."""

import datetime
import html
import io
import re
from urllib.parse import urlencode

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from applications.admin import operations
from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, ApplicationTag, Tag
from applications.pieces import piece_rows
from applications.services import candidature, review, staff
from applications.tests.factories_candidature import decide, decision_type, make_application, with_file
from applications.tests.helpers import change_url, operation_url
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory, PieceTypeFactory

CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign, email="estelle@example.org")


@pytest.fixture
def other_application(other_centre, campaign):
    return make_application(FormationFactory(centre=other_centre, code="MDROIT"), campaign=campaign)


# --- the persona matrix -----------------------------------------------------------------------------------------

ALL = ["candidate", "centre_manager", "other_centre_manager", "commission_member", "central_manager", "read_only"]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),  # not staff: sent to the login page
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 200),
        ("central_manager", 200),
        ("read_only", 200),
    ],
    indirect=["persona"],
)
def test_change_page(client, persona, application, expected):
    client.force_login(persona)
    assert client.get(change_url(application)).status_code == expected


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", {"MINFO"}),
        ("other_centre_manager", {"MDROIT"}),
        ("commission_member", {"MINFO"}),
        ("central_manager", {"MINFO", "MDROIT"}),
        ("read_only", {"MINFO"}),
    ],
    indirect=["persona"],
)
def test_list_shows_only_the_scope(client, persona, application, other_application, expected):
    client.force_login(persona)
    response = client.get(reverse(CHANGELIST))
    if expected == 302:
        assert response.status_code == 302
        return
    assert {row.formation.code for row in response.context["cl"].result_list} == expected


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", {}),
        ("centre_manager", {"set_status": 200, "enter_decision": 200, "validate_decisions": 200}),
        ("other_centre_manager", {"set_status": 404, "enter_decision": 404, "validate_decisions": 404}),
        ("commission_member", {"set_status": 403, "enter_decision": 200, "validate_decisions": 403}),
        ("central_manager", {"set_status": 200, "enter_decision": 200, "validate_decisions": 200}),
        ("read_only", {"set_status": 403, "enter_decision": 403, "validate_decisions": 403}),
    ],
    indirect=["persona"],
)
def test_operation_pages(client, persona, application, expected):
    client.force_login(persona)
    for name, status in (expected or dict.fromkeys(operations.OPERATIONS, 302)).items():
        assert client.get(operation_url(application, name)).status_code == status, name


@pytest.mark.parametrize(
    ("persona", "actions"),
    [
        (
            "centre_manager",
            {
                "action_set_status",
                "action_enter_decision",
                "action_validate_decisions",
                "action_extend_deadlines",
                "action_remind_forms",
                "action_change_tags",
                "action_treatment_type",
                "commission_pack_action",
                "commission_pack_pdf_action",
                "piece_pack_action",
            },
        ),
        (
            "commission_member",
            {"action_enter_decision", "commission_pack_action", "commission_pack_pdf_action", "piece_pack_action"},
        ),
        ("read_only", {"commission_pack_action", "commission_pack_pdf_action", "piece_pack_action"}),
    ],
    indirect=["persona"],
)
def test_bulk_actions_offered_per_role(client, persona, application, actions):
    client.force_login(persona)
    response = client.get(reverse(CHANGELIST))
    action_form = response.context["action_form"]
    offered = {name for name, _label in action_form.fields["action"].choices if name} if action_form else set()
    assert offered == actions


def test_outsider_cannot_act_on_a_guessed_application(client, other_centre_manager, application):
    client.force_login(other_centre_manager)
    response = client.post(operation_url(application, "set_status"), {"target": "CO"})
    assert response.status_code == 404
    # Through the bulk action with a guessed id: the scoped queryset drops it, nothing happens.
    client.post(
        reverse(CHANGELIST),
        {"action": "action_set_status", "_selected_action": [application.pk], "apply": "1", "target": "CO"},
    )
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
    assert not OutboundEmail.objects.exists()


# --- operations -------------------------------------------------------------------------------------------------


def test_bulk_status_shows_a_confirmation_page_then_applies(client, centre_manager, formation, campaign):
    first = make_application(formation, campaign=campaign)
    second = make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    selection = {"action": "action_set_status", "_selected_action": [first.pk, second.pk]}

    page = client.post(reverse(CHANGELIST), {**selection, "index": "0"})
    assert page.status_code == 200
    assert b"This applies to 2 applications" in page.content
    assert Application.objects.filter(dossier_status=DossierStatus.COMPLETE).count() == 0

    done = client.post(reverse(CHANGELIST), {**selection, "apply": "1", "target": "CO", "comment": ""})
    assert done.status_code == 302
    assert Application.objects.filter(dossier_status=DossierStatus.COMPLETE).count() == 2
    assert OutboundEmail.objects.filter(code="STATUT_CO").count() == 2


def test_a_paper_dossier_logged_late_keeps_the_day_it_was_received(client, centre_manager, formation, campaign):
    """eCandidat's "Statut du dossier" asks the date: SVA alerts count from it (SVA_ALERT_DATE=REC)."""
    first = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    second = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    # Applied for ten days ago (a status is never dated before the application's creation).
    Application.objects.filter(pk__in=[first.pk, second.pk]).update(
        created_at=timezone.now() - datetime.timedelta(days=10)
    )
    arrived = timezone.localdate() - datetime.timedelta(days=3)
    client.force_login(centre_manager)
    selection = {"action": "action_set_status", "_selected_action": [first.pk, second.pk], "apply": "1"}

    done = client.post(reverse(CHANGELIST), {**selection, "target": "RE", "on": arrived.isoformat()})

    assert done.status_code == 302
    for application in (first, second):
        application.refresh_from_db()
        assert (application.dossier_status, application.received_on) == (DossierStatus.RECEIVED, arrived)
        event = application.events.get(to_status=DossierStatus.RECEIVED)
        assert event.comment == f"daté du {arrived:%d/%m/%Y}"
        assert event.actor == centre_manager


@pytest.mark.parametrize(
    ("target", "days", "message"),
    [
        ("RE", -1, "La date du changement ne peut pas être dans le futur."),
        ("AT", 2, "Le statut « En attente » ne porte pas de date."),
    ],
)
def test_a_status_date_in_the_future_or_without_meaning_is_refused_next_to_it(
    client, centre_manager, formation, campaign, target, days, message
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.INCOMPLETE)
    client.force_login(centre_manager)
    on = timezone.localdate() - datetime.timedelta(days=days)

    response = client.post(
        operation_url(application, "set_status"), {"target": target, "on": on.isoformat()}, language="fr"
    )

    assert response.status_code == 200
    assert response.context["form"].errors["on"] == [message]
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.INCOMPLETE
    assert not OutboundEmail.objects.exists()


def test_a_refused_status_on_one_application_keeps_what_was_typed(
    client, django_assert_num_queries, centre_manager, application
):
    """ "Complet" on a dossier whose pieces are not all validated is refused by the service: the manager sees why
    above the form, with the comment for the candidate's mail still typed, not a flash message on the dossier and
    an empty form to fill in again."""
    with_file(application, label="Relevés de notes depuis le bac (1er semestre de l'année en cours impératif)")
    client.force_login(centre_manager)
    typed = {"target": "CO", "comment": "Merci, votre dossier est complet."}

    with django_assert_num_queries(18):  # the service's checks, rolled back, then the page again
        response = client.post(operation_url(application, "set_status"), typed, language="fr")

    assert response.status_code == 200
    (refusal,) = response.context["form"].non_field_errors()
    assert "1 pièce non validée (Relevés de notes depuis le bac (1er sem… – Transmise)" in refusal  # cut, and says so
    assert "Merci, votre dossier est complet.</textarea>" in response.content.decode()
    assert "<title>Erreur :" in response.content.decode()
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
    assert not OutboundEmail.objects.filter(code="STATUT_CO").exists()


def test_the_service_refuses_a_future_date_whatever_the_caller(centre_manager, formation, campaign):
    application = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)

    with pytest.raises(BusinessRuleError):
        staff.set_dossier_status(
            application, target="RE", actor=centre_manager, on=timezone.localdate() + datetime.timedelta(days=1)
        )

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.WAITING
    assert not application.events.exists()


def test_bulk_is_capped(client, centre_manager, formation, campaign, monkeypatch):
    monkeypatch.setattr(operations, "BULK_LIMIT", 1)
    pks = [make_application(formation, campaign=campaign).pk for _ in range(2)]
    client.force_login(centre_manager)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "action_set_status", "_selected_action": pks, "apply": "1", "target": "CO"},
        follow=True,
    )
    assert b"A mass action handles at most 1 applications at once and more are selected" in response.content
    assert not Application.objects.filter(dossier_status=DossierStatus.COMPLETE).exists()


def test_bulk_validation_reports_each_refusal(client, centre_manager, formation, campaign):
    with_decision = make_application(formation, campaign=campaign)
    staff.record_decision(with_decision, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    without = make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "action_validate_decisions", "_selected_action": [with_decision.pk, without.pk], "apply": "1"},
        follow=True,
    )
    text = response.content.decode()
    assert "Validate the decisions: 1 application done." in text
    assert "has no decision to validate" in text
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE").count() == 1


def test_bulk_names_every_refusal_past_the_twentieth_by_its_dossier_number(
    client, centre_manager, formation, campaign
):
    """Twenty refusals are said in full; the others were only counted (« … et 2 autres refus »), and nothing else
    named them: staff could not tell which applications were left unchanged."""
    refused = [make_application(formation, campaign=campaign) for _ in range(23)]
    client.force_login(centre_manager)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "action_validate_decisions", "_selected_action": [a.pk for a in refused], "apply": "1"},
        follow=True,
    )
    shown = [str(message) for message in response.context["messages"]]
    assert len(shown) == 21
    named = {number for number in (a.candidate.user.username for a in refused) if any(number in m for m in shown[:20])}
    rest = sorted({a.candidate.user.username for a in refused} - named)
    assert len(rest) == 3
    assert shown[20].startswith("… and 3 more refusals, dossiers: ")
    assert sorted(shown[20].removeprefix("… and 3 more refusals, dossiers: ").rstrip(".").split(", ")) == rest


@pytest.fixture
def one_validated(formation, campaign, centre_manager):
    """Two applications: one with a validated favourable decision the candidate confirmed, one without decision."""
    decided = make_application(formation, campaign=campaign)
    decision = staff.record_decision(decided, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decision, actor=centre_manager)
    candidature.confirm_application(application=decided, actor=decided.candidate.user)
    return decided, make_application(formation, campaign=campaign)


def _bulk_decision(client, applications, **fields):
    return client.post(
        reverse(CHANGELIST),
        {"action": "action_enter_decision", "_selected_action": [a.pk for a in applications], **fields},
        follow=True,
    )


def test_bulk_decision_is_refused_on_a_selection_with_a_validated_decision(client, commission_member, one_validated):
    decided, undecided = one_validated
    client.force_login(commission_member)

    opened = _bulk_decision(client, [decided, undecided], index="0")
    applied = _bulk_decision(
        client, [decided, undecided], apply="1", decision_type=decision_type(Avis.UNFAVOURABLE).pk
    )

    for response in (opened, applied):
        text = response.content.decode()
        assert "No decision was entered: applications of this selection already have a validated decision" in text
        assert decided.candidate.user.username in text
    assert decided.decisions.count() == 1  # nothing done, to either
    assert not undecided.decisions.exists()
    decided.refresh_from_db()
    assert decided.accepted is True  # the candidate's confirmation stands


def test_without_the_lock_or_one_at_a_time_a_new_decision_can_be_entered(
    client, settings, commission_member, one_validated
):
    decided, undecided = one_validated
    client.force_login(commission_member)
    listed = {"decision_type": decision_type(Avis.COMPLEMENTARY_LIST).pk, "rank": "1"}

    one = client.post(operation_url(decided, "enter_decision"), listed)
    settings.BULK_DECISION_LOCK = False
    _bulk_decision(client, [decided, undecided], apply="1", **listed)

    assert one.status_code == 302
    assert decided.decisions.count() == 3  # one from its dossier, one in bulk once the lock is off
    assert undecided.decisions.count() == 1


def test_bulk_tags_add_and_remove_leaving_each_applications_other_tags(
    client, centre_manager, formation, campaign, centre, other_centre
):
    priority, interview, old = (
        Tag.objects.create(label=label, centre=centre) for label in ("Prioritaire", "Entretien", "Ancien")
    )
    theirs = Tag.objects.create(label="Autre centre", centre=other_centre)
    first, second = make_application(formation, campaign=campaign), make_application(formation, campaign=campaign)
    review.set_tags(application=first, actor=centre_manager, tags=[old])
    client.force_login(centre_manager)
    selection = {"action": "action_change_tags", "_selected_action": [first.pk, second.pk]}

    page = client.post(reverse(CHANGELIST), {**selection, "index": "0"})
    forged = client.post(reverse(CHANGELIST), {**selection, "apply": "1", "add": [theirs.pk]})
    done = client.post(
        reverse(CHANGELIST),
        {**selection, "apply": "1", "add": [priority.pk, interview.pk], "remove": [old.pk]},
        follow=True,
    )

    assert "Autre centre" not in page.content.decode()  # only the tags this manager may use are offered
    assert forged.context["form"].errors["add"]  # a forged tag is refused by the form, nothing done
    assert "Tags: 2 applications done." in done.content.decode()
    for application in (first, second):
        assert set(application.tag_links.values_list("tag__label", flat=True)) == {"Prioritaire", "Entretien"}
    assert ApplicationTag.objects.get(application=second, tag=priority).added_by == centre_manager


@pytest.mark.parametrize("count", [1, 5])
def test_bulk_tags_says_where_tags_are_made_when_there_is_none(
    client, django_assert_num_queries, centre_manager, formation, campaign, other_centre, count
):
    Tag.objects.create(label="Autre centre", centre=other_centre)  # not this manager's
    selected = [make_application(formation, campaign=campaign).pk for _ in range(count)]
    client.force_login(centre_manager)
    selection = {"action": "action_change_tags", "_selected_action": selected, "index": "0"}

    with django_assert_num_queries(QUERIES_TAGS_PAGE):
        page = html.unescape(client.post(reverse(CHANGELIST), selection).content.decode())
    assert "No tag can be used yet: tags are created in the back office's “Tags” page." in page

    Tag.objects.create(label="Prioritaire", centre=formation.centre)
    assert "No tag can be used yet" not in client.post(reverse(CHANGELIST), selection).content.decode()


QUERIES_TAGS_PAGE = (
    21  # the list's own (the action runs from it), the selection, the tags offered twice, and whether any
)


def test_bulk_tags_is_not_an_operation_of_one_applications_page(client, centre_manager, application):
    client.force_login(centre_manager)

    page = client.get(change_url(application)).content.decode()

    assert operation_url(application, "change_tags") not in page  # its tags form is on the page already
    assert client.get(operation_url(application, "change_tags")).status_code == 404


def test_decision_form_keeps_input_and_says_what_is_missing(client, commission_member, application):
    client.force_login(commission_member)
    response = client.post(
        operation_url(application, "enter_decision"),
        {"decision_type": decision_type(Avis.COMPLEMENTARY_LIST).pk, "comment": "bon dossier"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"rank": ["A complementary-list decision needs a rank."]}
    assert b"bon dossier" in response.content
    assert not application.decisions.exists()

    response = client.post(
        operation_url(application, "enter_decision"),
        {"decision_type": decision_type(Avis.COMPLEMENTARY_LIST).pk, "rank": "4"},
    )
    assert response.status_code == 302
    assert application.decisions.get().rank == 4


def test_the_decision_form_marks_each_field_with_the_kind_of_avis_it_serves(client, commission_member, application):
    """static/js/decision_form.js shows only the fields of the chosen kind: each decision type says its kind, each
    kind's field says which one it belongs to, and the script is on the page."""
    unfavourable = decision_type(Avis.UNFAVOURABLE)
    client.force_login(commission_member)

    page = client.get(operation_url(application, "enter_decision")).content.decode()

    assert f'<option value="{unfavourable.pk}" lang="fr" data-avis="DE">' in page  # the staff's French label
    assert re.search(r'<select name="refusal_reason"[^>]* data-shown-for="DE"', page)
    assert re.search(r'<input type="number" name="rank"[^>]* data-shown-for="LC"', page)
    for name in ("preselection_date", "preselection_time", "preselection_place"):
        assert re.search(rf'<input [^>]*name="{name}"[^>]* data-shown-for="PR"', page)
    assert "data-shown-for" not in page.split('name="comment"')[1].split(">")[0]  # the comment is every kind's
    assert "/static/js/decision_form.js" in page


@pytest.mark.parametrize(
    ("data", "field", "errors"),
    [
        ({"rank": "0"}, "rank", ["Assurez-vous que cette valeur est supérieure ou égale à 1."]),
        ({"rank": ""}, "rank", ["Un avis liste complémentaire nécessite un rang."]),
    ],
)
def test_a_wrong_rank_gets_one_message(client, commission_member, application, data, field, errors):
    """Rank 0 said both "≥ 1" and "needs a rank", although a rank was typed."""
    client.force_login(commission_member)

    response = client.post(
        operation_url(application, "enter_decision"),
        {"decision_type": decision_type(Avis.COMPLEMENTARY_LIST).pk, **data},
        language="fr",
    )

    assert response.context["form"].errors[field] == errors


def test_a_value_typed_for_another_kind_of_avis_is_ignored(client, commission_member, application):
    """Typed, then another kind chosen (the script hid the field; without it the field was in sight): the decision
    keeps only what its kind means (``staff.record_decision``), so a hidden field never carries a stale value."""
    client.force_login(commission_member)

    response = client.post(
        operation_url(application, "enter_decision"),
        {"decision_type": decision_type(Avis.FAVOURABLE).pk, "rank": "4", "preselection_place": "Salle 12"},
    )

    assert response.status_code == 302
    decision = application.decisions.get()
    assert (decision.rank, decision.preselection_place) == (None, "")


def test_an_operation_sent_back_with_errors_says_so_in_its_title(
    client, django_assert_num_queries, commission_member, application
):
    """The page title is what a screen reader says first after the post (RGAA 11.10, as Django's change forms)."""
    client.force_login(commission_member)
    url = operation_url(application, "enter_decision")
    assert "<title>Error:" not in client.get(url).content.decode()
    listed = {"decision_type": decision_type(Avis.COMPLEMENTARY_LIST).pk}

    with django_assert_num_queries(13):  # the page again, with the decision types and reasons, the latest decision
        response = client.post(url, listed)

    assert response.context["form"].errors
    assert "<title>Error: " in response.content.decode()


def test_confirm_and_open_the_next_application(
    client, django_assert_num_queries, commission_member, formation, campaign
):
    """A commission member reads the list one dossier after another: the avis entered, the next dossier opens (the
    list's filters kept), and the message names whose avis it was, since it shows on the next dossier."""
    first, second = make_application(formation, campaign=campaign), make_application(formation, campaign=campaign)
    filters = "decision=none&o=2"  # no avis yet, by numéro de dossier: the first leaves the list as it gets one
    first, second = sorted([first, second], key=lambda a: a.candidate.user.username)
    client.force_login(commission_member)
    url = operation_url(first, "enter_decision") + "?" + urlencode({"_changelist_filters": filters})
    assert "Confirmer et passer à la suivante" in client.get(url, language="fr").content.decode()

    with django_assert_num_queries(26):  # the list's ids once, before the avis, then the avis
        response = client.post(url, {"decision_type": decision_type(Avis.FAVOURABLE).pk, "_next": "1"}, language="fr")

    assert response.url == change_url(second) + "?" + urlencode({"_changelist_filters": filters})
    assert first.decisions.get().decision_type.avis == Avis.FAVOURABLE
    page = client.get(response.url, language="fr").content.decode()
    numero = first.candidate.user.username
    assert f"Saisir un avis : fait pour {first.candidate.staff_name} ({numero})." in page


def test_confirm_and_next_on_the_last_application_says_the_list_is_done(
    client, commission_member, formation, campaign
):
    """On the list's last dossier « Confirmer et passer à la suivante » came back to that dossier and said nothing:
    the member clicked again, wondering whether the avis had been taken."""
    first, second = make_application(formation, campaign=campaign), make_application(formation, campaign=campaign)
    last = max([first, second], key=lambda a: a.candidate.user.username)
    filters = urlencode({"_changelist_filters": "o=2"})  # by numéro de dossier: ``last`` is the list's last row
    client.force_login(commission_member)

    response = client.post(
        operation_url(last, "enter_decision") + "?" + filters,
        {"decision_type": decision_type(Avis.FAVOURABLE).pk, "_next": "1"},
        language="fr",
    )

    assert response.url == change_url(last) + "?" + filters
    page = client.get(response.url, language="fr").content.decode()
    assert "C&#x27;était la dernière candidature de la liste." in page
    assert last.decisions.get().decision_type.avis == Avis.FAVOURABLE


def test_cancel_goes_back_inside_the_list_it_came_from(client, django_assert_num_queries, centre_manager, application):
    """« Annuler » on one application's operation went back to its dossier outside the list: "Suivant" then walked
    every application instead of "Pièces à contrôler". On a selection, it went back to the list unfiltered."""
    filters = urlencode({"_changelist_filters": "to_check=yes"})
    client.force_login(centre_manager)

    with django_assert_num_queries(9):  # no query for the way back: the filters are the page's own
        single = client.get(operation_url(application, "set_status") + "?" + filters).content.decode()
    selection = client.post(
        reverse(CHANGELIST) + "?to_check=yes", {"action": "action_set_status", "_selected_action": [application.pk]}
    ).content.decode()

    back = html.escape(change_url(application) + "?" + filters)
    assert f'<a href="{back}" class="button cancel-link">' in single
    assert f'<li><a href="{back}">' in single  # the breadcrumb's dossier too
    assert f'<a href="{reverse(CHANGELIST)}?to_check=yes" class="button cancel-link">' in selection


def test_confirm_alone_goes_back_to_the_dossier(client, commission_member, formation, campaign):
    first, _second = make_application(formation, campaign=campaign), make_application(formation, campaign=campaign)
    client.force_login(commission_member)

    response = client.post(
        operation_url(first, "enter_decision"), {"decision_type": decision_type(Avis.FAVOURABLE).pk}
    )

    assert response.url == change_url(first)


def test_stale_delete_gives_a_clear_message(client, centre_manager, application):
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    client.force_login(centre_manager)
    client.post(operation_url(application, "delete_last_decision"))
    response = client.post(operation_url(application, "delete_last_decision"), follow=True)
    assert b"This application has no decision." in response.content


# --- pieces -----------------------------------------------------------------------------------------------------


def piece_url(application, submission):
    return reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_nobody_posts_the_admin_change_form(client, superuser, application, method):
    """The change page is the reading page; each change has its own page and service. Even a superuser's write
    to it is refused before anything is read."""
    client.force_login(superuser)
    assert getattr(client, method)(change_url(application)).status_code == 405


def test_refuse_a_piece_with_a_comment_then_incomplete_mail(client, centre_manager, application):
    submission = with_file(application)
    client.force_login(centre_manager)

    response = client.post(piece_url(application, submission), {"status": "RE", "comment": "scan illisible"})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.comment, submission.status_changed_by) == (
        PieceStatus.REFUSED,
        "scan illisible",
        centre_manager,
    )

    client.post(operation_url(application, "set_status"), {"target": "IN"})
    mail = OutboundEmail.objects.get(code="STATUT_IN")
    assert "Relevé de notes : scan illisible" in mail.body


def test_a_piece_of_another_application_is_not_found(client, centre_manager, application, formation, campaign):
    foreign = with_file(make_application(formation, campaign=campaign))
    client.force_login(centre_manager)
    assert client.post(piece_url(application, foreign), {"status": "VA"}).status_code == 404


# --- export -----------------------------------------------------------------------------------------------------


def test_export_neutralises_formulas_and_follows_the_filters(client, centre_manager, formation, campaign):
    hostile = make_application(formation, campaign=campaign)
    hostile.candidate.birth_name = "=HYPERLINK(1)"
    hostile.candidate.first_name = "@SUM"
    hostile.candidate.save()
    complete = make_application(formation, campaign=campaign)
    staff.set_dossier_status(complete, target=DossierStatus.COMPLETE, actor=centre_manager)
    client.force_login(centre_manager)

    csv_text = (
        client.get(reverse("admin:applications_application_export", args=["csv"])).getvalue().decode("utf-8-sig")
    )
    assert "'=HYPERLINK(1)" in csv_text
    assert "'@SUM" in csv_text
    assert ";=" not in csv_text

    filtered = client.get(
        reverse("admin:applications_application_export", args=["xlsx"]) + "?dossier_status__exact=RE"
    )
    sheet = load_workbook(io.BytesIO(filtered.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2  # header + the received one only
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert rows[1][3] == "@SUM"  # a text cell of an XLSX is never evaluated: shown as typed, no apostrophe
    assert sheet.cell(row=2, column=17).number_format == "DD/MM/YYYY HH:MM"  # "created at", the French way


# --- dashboard --------------------------------------------------------------------------------------------------


def test_dashboard_counts_and_csv(client, centre_manager, application, other_application, formation, campaign):
    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=centre_manager)
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decision, actor=centre_manager)
    make_application(formation, campaign=campaign)
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_dashboard"))
    assert response.status_code == 200
    assert [
        (row.code, row.counts["total"], row.counts["status_CO"], row.counts["avis_FA"])
        for row, _values in response.context["rows"]
    ] == [("MINFO", 2, 1, 1)]  # MDROIT is another centre's
    assert b"<svg" in response.content

    csv_text = client.get(reverse("admin:applications_application_dashboard") + "?format=csv").content.decode(
        "utf-8-sig"
    )
    assert csv_text.splitlines()[1].startswith("MINFO;")


# --- query counts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 30])
def test_list_query_count_does_not_grow(client, django_assert_num_queries, centre_manager, formation, campaign, count):
    for _ in range(count):
        make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    with django_assert_num_queries(QUERIES_LIST):
        response = client.get(reverse(CHANGELIST))
    assert len(response.context["cl"].result_list) == count


@pytest.mark.parametrize("count", [1, 30])
def test_change_page_query_count_does_not_grow(
    client, django_assert_num_queries, centre_manager, formation, campaign, count
):
    applications = [make_application(formation, campaign=campaign) for _ in range(count)]
    with_file(applications[0])
    staff.record_decision(applications[0], decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    client.force_login(centre_manager)
    with django_assert_num_queries(QUERIES_CHANGE):
        response = client.get(change_url(applications[0]))
    assert "Relevé de notes" in response.content.decode()


def test_the_reading_page_gives_the_actual_rank_on_the_complementary_list(
    client, django_assert_num_queries, centre_manager, formation, campaign
):
    """The commission entered rank 2; nobody is ranked before her, so the candidate reads rank 1 (the list's rank
    column says 1): the dossier says so too, not only the entered rank in its Avis table."""
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=2)
    application.refresh_from_db()
    assert application.waiting_list_rank == 1
    client.force_login(centre_manager)

    # The rank is a column of the application: no query more; the decision is validated: its mails are read.
    with django_assert_num_queries(QUERIES_CHANGE + 1):
        response = client.get(change_url(application), language="fr")

    assert "Rang réel sur la liste complémentaire : <strong>1</strong>" in response.content.decode()


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    """The admin reads the Application content type once per process: warm it so counts do not depend on order."""
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


QUERIES_LIST = (
    20  # + tags (prefetch), counters per status (the filters again, one GROUP BY), saved filters, tag filter
)
QUERIES_CHANGE = 34  # the reading page (issue 11): dossier sections, questions, notes, tags, the list's neighbours


def test_change_page_lists_pieces_not_sent_yet(client, centre_manager, application):
    """A requested piece without any submission shows as a row without file nor check buttons."""
    with_file(application, label="CV")
    application.formation.piece_types.add(PieceTypeFactory(label="Lettre de motivation"))
    client.force_login(centre_manager)
    response = client.get(change_url(application))
    assert response.status_code == 200
    assert len(response.context["piece_items"]) == len(piece_rows(application))
    assert "Lettre de motivation" in response.content.decode()  # applications.pieces lists the formation's pieces


def test_the_processing_type_of_a_selection_changes_where_no_decision_is_validated(
    client, centre_manager, formation, campaign
):
    """eCandidat's mass "Type de traitement": one application with a validated decision is refused and named, the
    others change, each with the reason in its history and the candidate's mail."""
    free = make_application(formation, campaign=campaign)
    decided = make_application(formation, campaign=campaign)
    decision = staff.record_decision(decided, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decision, actor=centre_manager)
    OutboundEmail.objects.all().delete()
    client.force_login(centre_manager)

    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "action_treatment_type",
            "_selected_action": [free.pk, decided.pk],
            "apply": "1",
            "treatment_type": "AT",
            "reason": "Capacité à revoir",
        },
        language="fr",
        follow=True,
    )

    free.refresh_from_db()
    decided.refresh_from_db()
    assert (free.treatment_type, decided.treatment_type) == ("AT", "AC")
    assert decided.candidate.user.username in response.content.decode()
    assert list(OutboundEmail.objects.values_list("code", flat=True)) == ["TYPE_TRAIT_ATT"]
    assert free.events.get(comment__contains="Capacité à revoir").actor == centre_manager


def test_an_operation_page_names_the_candidate_it_acts_on(
    client, centre_manager, application, django_assert_num_queries
):
    """The page said only "A1B2C3D4 – M1ENER …" (and the breadcrumb the numéro de dossier): the member of staff
    checks whom a status or an avis is about by the name, as on the dossier's page."""
    candidate = application.candidate
    candidate.birth_name, candidate.usual_name, candidate.first_name = "Durand", "Martin", "Léa"
    candidate.save(update_fields=["birth_name", "usual_name", "first_name"])
    client.force_login(centre_manager)
    client.get(operation_url(application, "set_status"))

    with django_assert_num_queries(9):
        page = client.get(operation_url(application, "set_status")).content.decode()

    assert f"<li>MARTIN Léa ({candidate.user.username}) – {application.formation.code} " in page
    assert f'{change_url(application)}">MARTIN Léa</a></li>' in page


def test_the_delete_page_names_the_decision_it_deletes(client, django_assert_num_queries, centre_manager, application):
    """« Supprimer le dernier avis (non validé) » asked to confirm without saying which avis goes, nor which one
    stays: a manager deleting a commission's entry by mistake could not tell. The page now names both."""
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    staff.record_decision(
        application,
        decision_type=decision_type(Avis.COMPLEMENTARY_LIST),
        rank=3,
        comment="Dossier moyen",
        actor=centre_manager,
    )
    client.force_login(centre_manager)

    with django_assert_num_queries(10):  # the page (9), and the two latest decisions in one query
        page = client.get(operation_url(application, "delete_last_decision")).content.decode()

    deleted = " ".join(page[page.index('id="decision-to-delete-title"') :].split())
    assert '<strong lang="fr">Complementary list</strong>, rank 3 — entered on' in deleted
    assert "Comment: Dossier moyen" in deleted
    assert centre_manager.get_username() in deleted
    assert "The decision in force becomes again: <strong>Favourable</strong> (validated" in deleted


def test_the_delete_page_says_when_no_decision_remains(client, centre_manager, application):
    staff.record_decision(
        application,
        decision_type=decision_type(Avis.PRESELECTION),
        actor=centre_manager,
        preselection_at=timezone.now(),
        preselection_place="Salle 3",
    )
    client.force_login(centre_manager)

    page = client.get(operation_url(application, "delete_last_decision")).content.decode()

    assert "The application will have no decision left." in page


@pytest.mark.parametrize("name", ["set_status", "treatment_type", "withdraw_on_behalf"])
def test_the_operations_drop_downs_start_with_django_s_blank_choice(
    client, django_assert_num_queries, centre_manager, application, name
):
    """« Statut du dossier », « Type de traitement » and the withdrawal's reason began with « --------- », where every
    other drop-down of the back office reads « - Choisir une option - » (Django 6's blank choice)."""
    client.force_login(centre_manager)

    with django_assert_num_queries(9):
        page = client.get(operation_url(application, name), language="fr").content.decode()

    assert '<option value="" selected>- Choisir une option -</option>' in page
    assert "---------" not in page


@pytest.mark.usefixtures("back_office_in_french")
def test_a_mass_action_takes_at_most_200_applications_as_the_reference(
    client, django_assert_num_queries, centre_manager, formation, campaign
):
    """QA: the back office took 500 applications at once; eCandidat's mass actions take at most 200 (§2.3), and
    nothing documented a reason to differ. 201 are refused in French before any is read; 200 get the form."""
    pks = [make_application(formation, campaign=campaign).pk for _ in range(201)]
    client.force_login(centre_manager)
    action = {"action": "action_set_status", "target": "CO"}

    # Django builds the list (its filters) to run an action; then the selection's ids, 201 at most; none read or locked
    with django_assert_num_queries(15):
        refused = client.post(reverse(CHANGELIST), {**action, "_selected_action": pks, "apply": "1"})
    page = client.get(refused["Location"])
    confirmation = client.post(reverse(CHANGELIST), {**action, "_selected_action": pks[:200]})

    assert operations.BULK_LIMIT == 200
    assert (
        "Une action groupée traite au plus 200 candidatures à la fois et votre sélection en compte davantage : "
        "réduisez-la (filtres, ou lignes cochées) puis relancez l&#x27;action. Rien n&#x27;a été modifié."
    ) in page.content.decode()
    assert not Application.objects.filter(dossier_status=DossierStatus.COMPLETE).exists()
    assert confirmation.status_code == 200
    assert len(confirmation.context["applications"]) == 200
    assert "Au plus 200 candidatures à la fois." in confirmation.content.decode()


def test_a_tag_of_another_centre_is_neither_offered_nor_put_on_an_application(
    client, central_manager, application, other_centre, campaign
):
    """eCandidat offers the application's centre's tags and the global ones: the central office (who reads every
    centre) cannot mark an application with another centre's tag, whose staff would never see it; a global tag and
    the centre's own go on."""
    foreign = Tag.objects.create(label="Tag de l'autre UFR", centre=other_centre)
    own = Tag.objects.create(label="Prioritaire", centre=application.formation.centre)
    everywhere = Tag.objects.create(label="Boursier")
    client.force_login(central_manager)

    page = client.get(change_url(application)).content.decode()
    forged = client.post(reverse("admin:applications_application_tags", args=[application.pk]), {"tags": [foreign.pk]})
    assert not ApplicationTag.objects.filter(tag=foreign).exists()
    done = client.post(
        reverse("admin:applications_application_tags", args=[application.pk]), {"tags": [own.pk, everywhere.pk]}
    )

    assert "Tag de l&#x27;autre UFR" not in page
    assert "Prioritaire" in page
    assert "Boursier" in page
    assert forged.status_code == done.status_code == 302
    assert set(application.tag_links.values_list("tag__label", flat=True)) == {"Prioritaire", "Boursier"}
    with pytest.raises(BusinessRuleError, match="belongs to another centre"):
        review.change_tags(application=application, actor=central_manager, add=[foreign])
    assert not ApplicationTag.objects.filter(tag=foreign).exists()
