"""The candidates managers (eCandidat's gestionCandidat "Gestionnaire de candidats" and gestionCandidatLS "… en
lecture seule", ecandidat-features §2.1–2.2): the helpdesk finds every candidate of the active campaign, also one
who has applied nowhere, corrects the dossier (GCA) or reads it (GCAL), and reaches nothing of the applications'
handling."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import LogEntry
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import StaffMembership, StaffRole, User
from accounts.tests.factories import StaffFactory, StaffMembershipFactory
from applications.demo_staff import CANDIDATES_MANAGER
from applications.demo_staff import seed as seed_demo_staff
from applications.enums import EventKind
from applications.models import Address, Candidate
from applications.tests.factories import AddressFactory, CandidateFactory
from applications.tests.factories_candidature import ApplicationFactory, PieceSubmissionFactory, make_application
from applications.tests.helpers import dossier_form_data
from ecandidat.models import OutboundEmail
from ecandidat.staff import scope_of
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:applications_candidate_changelist")
MEMBERSHIPS = reverse("admin:accounts_staffmembership_changelist")


def _url(candidate):
    return reverse("admin:applications_candidate_change", args=[candidate.pk])


@pytest.fixture
def application(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    AddressFactory(candidate=application.candidate, city="PERPIGNAN", postal_code="66000")
    return application


@pytest.fixture
def newcomer(campaign):
    """A candidate of the active campaign who has applied nowhere: no centre's staff sees them."""
    candidate = CandidateFactory(
        user__campaign=campaign, user__email="nouvelle@example.org", birth_name="NOUVELLE", ine="1234567890A"
    )
    AddressFactory(candidate=candidate, city="PERPIGNAN", postal_code="66000")
    return candidate


# --- the roles -------------------------------------------------------------------------------------------------


def test_the_scope_says_what_each_role_reaches(candidates_manager, candidates_reader):
    manager, reader = scope_of(candidates_manager), scope_of(candidates_reader)

    assert (manager.reads_all_candidates, manager.corrects_all_candidates) == (True, True)
    assert (reader.reads_all_candidates, reader.corrects_all_candidates) == (True, False)
    for scope in (manager, reader):  # no member of the applications' staff: every application page stays closed
        assert not scope.is_staff_member
        assert not scope.is_central
        assert not scope.is_manager
        assert scope.reaches_candidates


@pytest.mark.parametrize("role", [StaffRole.CANDIDATES, StaffRole.CANDIDATES_READ_ONLY])
def test_the_roles_are_institution_wide_and_given_once(role, centre, candidates_manager):
    user = StaffMembershipFactory(role=role, centre=None).user
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMembership.objects.create(user=user, role=role, centre=centre)
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMembership.objects.create(user=user, role=role)


def test_the_central_office_grants_the_role_in_the_memberships(client, central_manager, centre):
    colleague = StaffFactory()
    client.force_login(central_manager)
    add = reverse("admin:accounts_staffmembership_add")

    refused = client.post(add, {"user": colleague.pk, "role": "GCA", "centre": centre.pk, "all_commissions": "on"})
    response = client.post(add, {"user": colleague.pk, "role": "GCAL", "all_commissions": "on"})

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["centre"] == [
        "This role covers the whole institution: leave the centre and the commission empty."
    ]
    assert response.status_code == 302
    assert StaffMembership.objects.get(user=colleague).role == StaffRole.CANDIDATES_READ_ONLY
    assert scope_of(User.objects.get(pk=colleague.pk)).reads_all_candidates


def test_a_centre_manager_cannot_grant_it(client, centre_manager, commission):
    colleague = StaffFactory()
    client.force_login(centre_manager)

    response = client.post(reverse("admin:accounts_staffmembership_add"), {"user": colleague.pk, "role": "GCA"})

    assert response.status_code == 200
    assert "role" in response.context["adminform"].form.errors
    assert not StaffMembership.objects.filter(user=colleague).exists()


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader"])
def test_the_pieces_staff_urls_answer_them_404(request, client, persona, application, django_assert_num_queries):
    """No member of the applications' staff: a piece's file, the upload on the candidate's behalf and the dossier's
    PDF answer them 404, as every application page does (they answered 403 for the first two)."""
    client.force_login(request.getfixturevalue(persona))
    submission = PieceSubmissionFactory(application=application)  # « Transmise », with its file
    # Session, user, the scope's memberships: no row read. The download and the PDF run in the request's
    # transaction (+ its savepoint, rolled back with the 404: 3 more); the upload does not (the file first).
    pieces = [
        ("get", reverse("pieces:staff_download", args=[submission.public_id]), 6),
        ("post", reverse("pieces:staff_upload", args=[application.public_id, submission.piece_type_id]), 3),
        ("get", reverse("pieces:staff_dossier_pdf", args=[application.public_id]), 6),
    ]

    for method, url, queries in pieces:
        with django_assert_num_queries(queries):
            response = getattr(client, method)(url)
        assert response.status_code == 404, url


# --- the candidates' list --------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader"])
def test_the_list_shows_every_candidate_of_the_active_campaign(
    client, request, persona, application, newcomer, django_assert_num_queries
):
    past = CandidateFactory(user__campaign=CampaignFactory(is_active=False), birth_name="ANCIEN")
    client.force_login(request.getfixturevalue(persona))
    client.get(LIST)  # per-process memos warm

    # Session, user, scope, Django's permissions (2), the count, the page of rows, and the request's savepoint pair.
    with django_assert_num_queries(9):
        response = client.get(LIST)

    shown = set(response.context["cl"].result_list)
    assert shown == {application.candidate, newcomer}  # the newcomer too; not the past campaign's
    assert past not in shown


@pytest.mark.parametrize(("language", "shown"), [("en", "9 March 2001"), ("fr", "9 mars 2001")])
def test_the_list_writes_the_birth_date_day_first_in_both_languages(
    client, candidates_manager, newcomer, language, shown, django_assert_num_queries
):
    """The English list wrote "March 9, 2001" (Django's American date) where every other page writes the day first."""
    newcomer.birth_date = datetime.date(2001, 3, 9)
    newcomer.save()
    client.force_login(candidates_manager)
    client.get(LIST)

    with django_assert_num_queries(9):
        response = client.get(LIST, language=language)

    assert f'class="field-birth_date nowrap">{shown}</td>' in response.content.decode()


@pytest.mark.parametrize("others", [0, 6])
def test_the_list_does_not_grow_queries_with_candidates(
    client, candidates_manager, campaign, newcomer, others, django_assert_num_queries
):
    CandidateFactory.create_batch(others, user__campaign=campaign)
    client.force_login(candidates_manager)
    client.get(LIST)

    with django_assert_num_queries(9):
        client.get(LIST)


@pytest.mark.parametrize(
    "query",
    ["nouvelle@example.org", "NOUVELLE", "nouv", "1234567890A", "12345678"],
)
def test_the_helpdesk_search(client, candidates_reader, newcomer, application, query):
    """By numéro de dossier, names, INE, e-mail address or student number (the account's or the SIS's)."""
    User.objects.filter(pk=newcomer.user_id).update(student_number="12345678")
    client.force_login(candidates_reader)

    by_numero = client.get(LIST, {"q": newcomer.user.username})
    response = client.get(LIST, {"q": query})

    assert list(by_numero.context["cl"].result_list) == [newcomer]
    assert list(response.context["cl"].result_list) == [newcomer]


# --- the candidate's page ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "can_change"), [("candidates_manager", True), ("candidates_reader", False)])
@pytest.mark.parametrize("others", [0, 3])
def test_the_page_lists_the_applications_without_links(
    client, request, persona, can_change, others, application, django_assert_num_queries
):
    for _ in range(others):
        ApplicationFactory(
            candidate=application.candidate, formation=FormationFactory(), campaign=application.campaign
        )
    client.force_login(request.getfixturevalue(persona))
    client.get(_url(application.candidate))

    with django_assert_num_queries(17):  # as a centre manager's (test_staff_dossier_edit), list and version included
        response = client.get(_url(application.candidate))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is can_change
    html = response.content.decode()
    assert 'id="candidate-applications"' in html
    assert str(application.formation) in html
    assert len(response.context["candidate_applications"]) == 1 + others
    assert "/gestion/applications/application/" not in html  # no link into the applications' pages
    assert "Delete this account" not in html  # deletion stays with the central office
    assert (
        client.get(reverse("admin:applications_candidate_add")).status_code == 404
    )  # never offered (test_readers_not_found)


def test_other_staff_keep_their_links(client, centre_manager, application):
    client.force_login(centre_manager)

    response = client.get(_url(application.candidate))

    assert reverse("admin:applications_application_change", args=[application.pk]) in response.content.decode()


def test_the_manager_corrects_and_the_applications_history_names_them(client, candidates_manager, application):
    client.force_login(candidates_manager)
    data = dossier_form_data(client.get(_url(application.candidate)))
    data["address-0-city"] = "CANET-EN-ROUSSILLON"
    data["mobile"] = "+33612345678"

    response = client.post(_url(application.candidate), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert Address.objects.get(candidate=application.candidate).city == "CANET-EN-ROUSSILLON"
    event = application.events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    assert event.actor == candidates_manager
    assert "Adresse : commune : PERPIGNAN → CANET-EN-ROUSSILLON" in event.comment


def test_a_change_to_a_candidate_without_application_is_in_the_dossiers_history(client, candidates_manager, newcomer):
    client.force_login(candidates_manager)
    data = dossier_form_data(client.get(_url(newcomer)))
    data["address-0-city"] = "CANET-EN-ROUSSILLON"

    assert client.post(_url(newcomer), data).status_code == 302

    entry = LogEntry.objects.get(object_id=str(newcomer.pk), content_type__model="candidate")
    assert entry.user_id == candidates_manager.pk
    assert entry.get_change_message() == "Adresse : commune : PERPIGNAN → CANET-EN-ROUSSILLON"
    history = client.get(reverse("admin:applications_candidate_history", args=[newcomer.pk]))
    assert "PERPIGNAN → CANET-EN-ROUSSILLON" in history.content.decode()


def test_what_the_sis_holds_stays_the_central_offices(client, candidates_manager, newcomer):
    Candidate.objects.filter(pk=newcomer.pk).update(sis_locked=True, sis_student_number="11111111")
    client.force_login(candidates_manager)
    response = client.get(_url(newcomer))
    data = dossier_form_data(response)

    for locked in ("user", "birth_name", "sis_locked", "sis_student_number"):
        assert locked not in response.context["adminform"].form.fields, locked
    data.update(birth_name="AUTRE", sis_student_number="99999999", mobile="+33612345678")

    assert client.post(_url(newcomer), data).status_code == 302
    newcomer.refresh_from_db()
    assert (newcomer.birth_name, newcomer.sis_student_number, newcomer.mobile) == (
        "NOUVELLE",
        "11111111",
        "+33612345678",
    )


def test_the_reader_cannot_post(client, candidates_reader, newcomer):
    client.force_login(candidates_reader)
    data = dossier_form_data(client.get(_url(newcomer)))
    data["address-0-city"] = "AILLEURS"

    assert client.post(_url(newcomer), data).status_code == 403
    assert Address.objects.get(candidate=newcomer).city == "PERPIGNAN"
    assert not LogEntry.objects.filter(object_id=str(newcomer.pk)).exists()


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader"])
def test_a_past_campaigns_candidate_is_not_found(client, request, persona):
    past = CandidateFactory(user__campaign=CampaignFactory(is_active=False))
    client.force_login(request.getfixturevalue(persona))

    assert client.get(_url(past)).status_code == 404


# --- what stays closed ---------------------------------------------------------------------------------------------


def _closed_pages(application) -> list[str]:
    return [
        reverse("admin:applications_application_changelist"),
        reverse("admin:applications_application_change", args=[application.pk]),
        reverse("admin:applications_application_operation", args=[application.pk, "confirm"]),
        reverse("admin:applications_application_dashboard"),
        reverse("admin:applications_application_export", args=["csv"]),
        reverse("admin:applications_opi_changelist"),
        reverse("admin:ecandidat_parameteroverride_changelist"),
        reverse("admin:offers_formation_change", args=[application.formation_id]),
        reverse("admin:offers_formation_add"),
        reverse("admin:offers_decisiontype_changelist"),
        reverse("admin:accounts_staffmembership_changelist"),
        reverse("admin:accounts_user_change", args=[application.candidate.user_id]),
        reverse("admin:applications_candidate_delete_account") + f"?numero={application.candidate.user.username}",
    ]


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader"])
def test_every_page_of_the_applications_handling_answers_404(client, request, persona, application):
    client.force_login(request.getfixturevalue(persona))

    answers = {url: (client.get(url).status_code, client.post(url).status_code) for url in _closed_pages(application)}

    # 405: a page that takes GET only refuses POST before looking (test_admin_access); never the page.
    assert {url: answer for url, answer in answers.items() if answer not in {(404, 404), (404, 405)}} == {}


@pytest.mark.parametrize("persona", ["candidates_manager", "candidates_reader"])
def test_the_home_offers_the_candidates_only(client, request, persona, application):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["centre_home"] is None
    models = {model["object_name"] for app in response.context["app_list"] for model in app["models"]}
    assert models == {"Candidate", "CandidateAccount"}


def test_the_demo_persona(db):
    seed_demo_staff()

    helpdesk = User.objects.get(username=CANDIDATES_MANAGER[0])
    assert helpdesk.check_password(CANDIDATES_MANAGER[1])
    assert helpdesk.is_staff
    assert scope_of(helpdesk).corrects_all_candidates
    seed_demo_staff()  # idempotent
    assert StaffMembership.objects.filter(user=helpdesk).count() == 1


# --- the account's e-mail address (the write role's account-level help) -------------------------------------------


def _email_url(candidate):
    return reverse("admin:applications_candidate_account_email", args=[candidate.pk])


def test_the_manager_changes_the_accounts_address_to_be_validated(
    client, candidates_manager, application, django_capture_on_commit_callbacks, django_assert_num_queries
):
    candidate = application.candidate
    old = candidate.user.email
    client.force_login(candidates_manager)
    assert _email_url(candidate) in client.get(_url(candidate)).content.decode()
    client.get(_email_url(candidate))

    # Session, user, scope, the dossier with its account, Django's permissions (2: the sidebar), the savepoint pair.
    with django_assert_num_queries(8):
        page = client.get(_email_url(candidate))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_email_url(candidate), {"email": "Neuve@example.org", "email2": "neuve@example.org"})

    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == _url(candidate)
    candidate.user.refresh_from_db()
    assert candidate.user.email == "neuve@example.org"
    address = EmailAddress.objects.get(user=candidate.user)
    assert (address.email, address.verified) == ("neuve@example.org", False)
    assert OutboundEmail.objects.filter(to="neuve@example.org").exists()  # the validation link
    event = application.events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    assert event.actor == candidates_manager
    # In the institution's language (the compiled catalogue's words): the old and the new address.
    assert event.comment.split(": ", 1)[1].startswith(f"{old} → neuve@example.org (")
    entry = LogEntry.objects.get(object_id=str(candidate.pk), content_type__model="candidate")
    assert (entry.user_id, entry.get_change_message()) == (candidates_manager.pk, event.comment)


def test_an_address_of_another_account_is_refused_next_to_the_field(client, candidates_manager, newcomer, application):
    taken = application.candidate.user.email
    client.force_login(candidates_manager)

    response = client.post(_email_url(newcomer), {"email": taken, "email2": taken})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": [
            "Another account of this campaign uses this address: nothing was changed, and its owner was not mailed."
        ]
    }
    assert User.objects.get(pk=newcomer.user_id).email == "nouvelle@example.org"
    assert not LogEntry.objects.exists()


def test_the_two_addresses_must_match(client, candidates_manager, newcomer):
    client.force_login(candidates_manager)

    response = client.post(_email_url(newcomer), {"email": "a@example.org", "email2": "b@example.org"})

    assert response.context["form"].errors == {"email2": ["The two e-mail addresses are different."]}


@pytest.mark.parametrize("persona", ["candidates_reader", "centre_manager", "commission_member"])
def test_only_the_central_office_and_the_write_role_change_it(client, request, persona, application):
    client.force_login(request.getfixturevalue(persona))
    url = _email_url(application.candidate)

    assert (client.get(url).status_code, client.post(url, {"email": "x@example.org"}).status_code) == (404, 404)
    assert url not in client.get(_url(application.candidate)).content.decode()
    assert User.objects.get(pk=application.candidate.user_id).email != "x@example.org"


def test_the_central_office_changes_it_too(client, central_manager, newcomer):
    client.force_login(central_manager)

    response = client.post(_email_url(newcomer), {"email": "neuve@example.org", "email2": "neuve@example.org"})

    assert response.status_code == 302
    assert User.objects.get(pk=newcomer.user_id).email == "neuve@example.org"


def test_a_candidates_manager_who_is_also_a_centres_staff_gets_that_centres_links(
    client, candidates_manager, centre, application
):
    StaffMembershipFactory(user=candidates_manager, role=StaffRole.READ_ONLY, centre=centre)
    elsewhere = ApplicationFactory(
        candidate=application.candidate, formation=FormationFactory(), campaign=application.campaign
    )
    client.force_login(candidates_manager)

    html = client.get(_url(application.candidate)).content.decode()

    assert reverse("admin:applications_application_change", args=[application.pk]) in html
    assert reverse("admin:applications_application_change", args=[elsewhere.pk]) not in html
    assert str(elsewhere.formation) in html  # listed, as for every candidates manager
