"""The commission's screen (ecandidat-features §2.2, §2.3; eCandidat ``tem_comm_visible`` and issue #64): which
dossier statuses each commission shows its members, set by the central office and the centre's managers, applied
to the list, the application's page and the actions, and said on the list; the rows in SVA alert carry their level;
shared answers to the complementary questions are marked as shared pieces are."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.tests.factories import StaffMembershipFactory
from applications.enums import DossierStatus, SvaColour
from applications.models import Application, SvaAlertLevel
from applications.models.candidature import COMMISSION_STATUS_FLAGS
from applications.services.questions import answer_questions
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate, make_application
from applications.tests.helpers import admin_form_data, change_url, operation_url
from offers.models import COMMISSION_STATUS_FLAG_FIELDS, Commission, Question
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def waiting(formation, campaign):
    return make_application(formation, campaign=campaign, status=DossierStatus.WAITING)


@pytest.fixture
def received(formation, campaign):
    return make_application(formation, campaign=campaign, status=DossierStatus.RECEIVED)


def hide(commission, *statuses):
    """The commission shows every status but ``statuses``."""
    Commission.objects.filter(pk=commission.pk).update(
        **{COMMISSION_STATUS_FLAGS[status]: False for status in statuses}
    )


# --- the setting ------------------------------------------------------------------------------------------------


def test_every_dossier_status_has_its_commission_flag_in_order():
    assert list(COMMISSION_STATUS_FLAGS) == list(DossierStatus.values)
    assert tuple(COMMISSION_STATUS_FLAGS.values()) == COMMISSION_STATUS_FLAG_FIELDS


def test_a_new_commission_shows_every_status(centre):
    commission = CommissionFactory(centre=centre)

    assert commission.shown_status_fields == list(COMMISSION_STATUS_FLAG_FIELDS)


def test_the_database_refuses_a_commission_that_shows_nothing(commission):
    with pytest.raises(IntegrityError), transaction.atomic():
        Commission.objects.filter(pk=commission.pk).update(**dict.fromkeys(COMMISSION_STATUS_FLAG_FIELDS, False))


# --- the scope: one place, in the query -------------------------------------------------------------------------


def test_commission_members_reach_only_the_statuses_their_commission_shows(
    commission_member, centre_manager, commission, waiting, received
):
    hide(commission, DossierStatus.WAITING)

    assert list(Application.objects.visible_to(commission_member)) == [received]
    assert list(Application.objects.decidable_by(commission_member)) == [received]
    assert set(Application.objects.visible_to(centre_manager)) == {waiting, received}


def test_a_centre_reader_who_sits_on_the_commission_still_sees_every_status(
    client, read_only_staff, commission, waiting, received
):
    StaffMembershipFactory(commission_member=True, commission=commission, user=read_only_staff)
    hide(commission, DossierStatus.WAITING)
    client.force_login(read_only_staff)

    response = client.get(reverse(CHANGELIST))

    assert set(Application.objects.visible_to(read_only_staff)) == {waiting, received}
    assert {row.pk for row in response.context["cl"].result_list} == {waiting.pk, received.pk}
    assert response.context["commission_statements"] == []  # nothing hidden from them: nothing to say


def test_each_commission_applies_its_own_setting(commission_member, centre, campaign, commission, waiting, received):
    other = CommissionFactory(centre=centre)
    StaffMembershipFactory(commission_member=True, commission=other, user=commission_member)
    other_formation = FormationFactory(centre=centre, commission=other)
    other_waiting = make_application(other_formation, campaign=campaign, status=DossierStatus.WAITING)
    hide(commission, DossierStatus.WAITING)
    hide(other, DossierStatus.RECEIVED)

    assert set(Application.objects.visible_to(commission_member)) == {received, other_waiting}


def test_the_scope_reads_no_row_first(django_assert_num_queries, commission_member, commission, received):
    hide(commission, DossierStatus.WAITING)
    commission_member.staff_scope  # noqa: B018 - the scope is read once per user object, before

    with django_assert_num_queries(1):
        assert list(Application.objects.visible_to(commission_member)) == [received]


# --- the list -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected", "statement", "queries"),
    [
        ("commission_member", {"received"}, "Dossiers shown: Received, Incomplete, Complete", 23),
        ("centre_manager", {"waiting", "received"}, None, 20),
        ("read_only_staff", {"waiting", "received"}, None, 20),
        ("central_manager", {"waiting", "received"}, None, 20),
        ("other_centre_manager", set(), None, 19),
    ],
)
def test_the_list_shows_and_says_what_the_commission_sees(
    request, client, django_assert_num_queries, commission, waiting, received, persona, expected, statement, queries
):
    hide(commission, DossierStatus.WAITING)
    client.force_login(request.getfixturevalue(persona))
    names = {waiting.pk: "waiting", received.pk: "received"}

    with django_assert_num_queries(queries):
        response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert {names[row.pk] for row in response.context["cl"].result_list} == expected
    html = response.content.decode()
    counters = [counter["label"] for counter in response.context["status_counters"]]
    if statement:
        assert response.context["commission_statements"] == [statement]
        assertContains(response, f"<p>{statement}</p>", html=True)
        assert "hidden from the commission by its settings" in html
        assert counters == ["Received", "Incomplete", "Complete"]  # no counter it can never fill
    else:
        assert response.context["commission_statements"] == []
        assert "Dossiers shown" not in html
        assert counters == ["Waiting", "Received", "Incomplete", "Complete"]


def test_a_commission_that_shows_everything_says_so_without_the_hint(client, commission_member, waiting):
    client.force_login(commission_member)

    response = client.get(reverse(CHANGELIST))

    assert response.context["commission_statements"] == ["Dossiers shown: Waiting, Received, Incomplete, Complete"]
    assertNotContains(response, "hidden from the commission by its settings")


def test_several_commissions_are_named(client, commission_member, centre, commission):
    other = CommissionFactory(centre=centre, label="Jury B")
    Commission.objects.filter(pk=commission.pk).update(label="Jury A")
    StaffMembershipFactory(commission_member=True, commission=other, user=commission_member)
    hide(other, DossierStatus.WAITING, DossierStatus.INCOMPLETE)
    client.force_login(commission_member)

    response = client.get(reverse(CHANGELIST))

    assert response.context["commission_statements"] == [
        "Dossiers shown for Jury A: Waiting, Received, Incomplete, Complete",
        "Dossiers shown for Jury B: Received, Complete",
    ]


def test_the_statement_is_in_french(client, commission_member, commission, waiting):
    hide(commission, DossierStatus.WAITING, DossierStatus.INCOMPLETE)
    client.language = "fr"
    client.force_login(commission_member)

    response = client.get(reverse(CHANGELIST))

    assertContains(response, "Dossiers affichés : Réceptionné, Complet")


# --- the application's page and the actions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected", "queries"),
    [
        ("commission_member", 404, 7),  # as an outsider: nothing tells a hidden dossier from a missing one
        ("centre_manager", 200, 34),
        ("read_only_staff", 200, 30),
        ("central_manager", 200, 35),
        ("other_centre_manager", 404, 7),
    ],
)
def test_a_hidden_status_is_not_found_by_the_commission(
    request, client, django_assert_num_queries, commission, waiting, persona, expected, queries
):
    hide(commission, DossierStatus.WAITING)
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(queries):
        response = client.get(change_url(waiting))

    assert response.status_code == expected


def test_a_shown_status_opens_for_the_commission(client, django_assert_num_queries, commission_member, received):
    hide(received.formation.commission, DossierStatus.WAITING)
    client.force_login(commission_member)

    with django_assert_num_queries(35):
        response = client.get(change_url(received))

    assert response.status_code == 200


def test_the_commission_cannot_decide_on_a_hidden_dossier(client, commission_member, commission, waiting):
    hide(commission, DossierStatus.WAITING)
    client.force_login(commission_member)

    response = client.get(operation_url(waiting, "enter_decision"))

    assert response.status_code == 404
    assert not waiting.decisions.exists()


# --- editing the setting (the commission's admin) ---------------------------------------------------------------


def commission_url(commission):
    return reverse("admin:offers_commission_change", args=[commission.pk])


@pytest.mark.parametrize("persona", ["central_manager", "centre_manager"])
def test_the_central_office_and_the_centre_managers_choose_the_statuses(
    request, client, django_assert_num_queries, commission, persona
):
    client.force_login(request.getfixturevalue(persona))
    data = admin_form_data(client.get(commission_url(commission)))
    assert data["shown_statuses"] == list(COMMISSION_STATUS_FLAG_FIELDS)

    with django_assert_num_queries(15):
        response = client.post(commission_url(commission), {**data, "shown_statuses": ["shows_received"]})

    assert response.status_code == 302
    commission.refresh_from_db()
    assert commission.shown_status_fields == ["shows_received"]


def test_ticking_none_is_refused_next_to_the_field(client, django_assert_num_queries, centre_manager, commission):
    client.force_login(centre_manager)
    data = admin_form_data(client.get(commission_url(commission)))
    del data["shown_statuses"]

    with django_assert_num_queries(14):
        response = client.post(commission_url(commission), {**data, "email": "changed@univ.example"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["shown_statuses"] == [
        "Tick at least one dossier status: the commission would see no dossier."
    ]
    commission.refresh_from_db()
    assert commission.shown_status_fields == list(COMMISSION_STATUS_FLAG_FIELDS)
    assert commission.email != "changed@univ.example"


@pytest.mark.parametrize("persona", ["other_centre_manager", "commission_member"])
def test_others_cannot_change_the_statuses(request, client, commission, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.post(commission_url(commission), {"shown_statuses": ["shows_received"]})

    assert response.status_code == 404  # no commission of their own in the catalogue: nothing to find
    commission.refresh_from_db()
    assert commission.shown_status_fields == list(COMMISSION_STATUS_FLAG_FIELDS)


def test_the_commissions_list_says_what_each_shows(client, django_assert_num_queries, central_manager, commission):
    hide(commission, DossierStatus.WAITING, DossierStatus.INCOMPLETE)
    client.force_login(central_manager)

    with django_assert_num_queries(10):  # the flags are the row's: no query per commission
        response = client.get(reverse("admin:offers_commission_changelist"))

    assertContains(
        response,
        '<td role="cell" data-label="Dossiers shown" class="field-dossiers_shown">Received, Complete</td>',
        html=True,
    )


def test_the_form_is_a_labelled_group_of_checkboxes(client, centre_manager, commission):
    client.language = "fr"
    client.force_login(centre_manager)

    html = client.get(commission_url(commission)).content.decode()

    assert 'type="checkbox" name="shown_statuses" value="shows_waiting"' in html
    assert "En attente" in html
    assert "Réceptionné" in html
    assert "<legend" in html.split('name="shown_statuses"')[0].rsplit("<fieldset", 1)[1]  # the group's name
    assert "ne voient, dans la liste des candidatures" in html
    assert 'aria-describedby="_helptext"' not in html


# --- SVA alerts: the whole row ----------------------------------------------------------------------------------


def test_a_row_in_alert_carries_its_level_and_says_it_in_words(
    client, settings, django_assert_num_queries, centre_manager, formation, campaign
):
    settings.SVA_ALERT_DATE = "REC"
    settings.SVA_ALERT_FINAL_ONLY = False
    SvaAlertLevel.objects.create(days=15, colour=SvaColour.BLUE)
    SvaAlertLevel.objects.create(days=30, colour=SvaColour.ORANGE)
    today = timezone.localdate()
    old = make_application(
        formation, campaign=campaign, status=DossierStatus.RECEIVED, received_on=today - datetime.timedelta(days=45)
    )
    fresh = make_application(
        formation, campaign=campaign, status=DossierStatus.RECEIVED, received_on=today - datetime.timedelta(days=2)
    )
    client.force_login(centre_manager)

    with django_assert_num_queries(21):  # as before: the levels, and no query per row
        response = client.get(reverse(CHANGELIST) + "?o=1")

    html = response.content.decode()
    rows = html.split('<tbody role="rowgroup">')[1].split("</tbody>")[0].split("<tr")[1:]
    by_row = {
        application.pk: next(row for row in rows if f'value="{application.pk}"' in row) for application in (old, fresh)
    }
    assert by_row[old.pk].startswith(' role="row" class="sva-row sva-row--orange">')
    assert "45 d (threshold of 30 d reached)" in by_row[old.pk]  # colour never alone
    assert by_row[fresh.pk].startswith(' role="row">')
    assert "—" in by_row[fresh.pk]


def test_no_row_class_while_alerts_are_off(client, settings, centre_manager, formation, campaign):
    settings.SVA_ALERT_DATE = "NO"
    SvaAlertLevel.objects.create(days=1, colour=SvaColour.RED)
    make_application(
        formation,
        campaign=campaign,
        status=DossierStatus.RECEIVED,
        received_on=timezone.localdate() - datetime.timedelta(days=90),
    )
    client.force_login(centre_manager)

    response = client.get(reverse(CHANGELIST))

    assertNotContains(response, "sva-row")


# --- shared answers, marked as shared pieces ----------------------------------------------------------------------


@pytest.fixture
def shared_answer(campaign, formation):
    """An application whose candidate answered the institution's common question (shared) and a unique one."""
    caches["pages"].clear()
    applicant = complete_candidate(user__campaign=campaign)
    application = ApplicationFactory(candidate=applicant, formation=formation)
    shared = Question.objects.create(code="CHARTE", label="Charte", candidate_label="Charte lue ?", is_common=True)
    own = Question.objects.create(
        code="MOTIV", label="Motivation", candidate_label="Pourquoi ?", is_common=True, is_unique=True
    )
    answer_questions(
        application=application,
        answers={shared.pk: "Lue", own.pk: "Par goût"},
        not_concerned=(),
        actor=applicant.user,
    )
    yield application
    caches["pages"].clear()


def test_the_review_page_marks_the_shared_answer_only(
    client, django_assert_num_queries, centre_manager, shared_answer
):
    client.force_login(centre_manager)

    with django_assert_num_queries(34):
        response = client.get(change_url(shared_answer))

    questions = response.content.decode().split('id="questions"')[1].split("</section>")[0]
    assert questions.count('<span class="help">(shared by the candidate\'s applications)</span>') == 1
    assert questions.index("Lue") < questions.index("shared by") < questions.index("Par goût")


def test_the_candidate_recap_marks_the_shared_answer_only(client, django_assert_num_queries, shared_answer):
    client.force_login(shared_answer.candidate.user)
    url = reverse("applications:detail", args=[shared_answer.public_id])
    client.get(url)  # the formation's questions into the cache

    with django_assert_num_queries(6):
        response = client.get(url)

    table = response.content.decode().split('id="questions"')[1].split("</table>")[0]
    assert table.count("(answer shared by your applications)") == 1
    assert table.index("Charte lue ?") < table.index("answer shared by") < table.index("Pourquoi ?")


def test_the_recap_mark_is_in_french(client, shared_answer):
    client.language = "fr"
    client.force_login(shared_answer.candidate.user)

    response = client.get(reverse("applications:detail", args=[shared_answer.public_id]))

    assertContains(response, "(réponse commune à vos candidatures)")
