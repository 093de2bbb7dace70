"""The complementary forms after the review of 2026-12-05: a form answered cannot be deleted from the back office (its
imported answers went with it, the archived campaigns' for good), a URL candidates cannot open is refused where it
is typed, and the nightly LimeSurvey import keeps the newest answer whatever the spelling of ``idCandidature`` and
stores an answer with a NUL however deep it lies."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from applications.limesurvey_sync import _answers, store_responses
from applications.models import Application, FormAnswer
from applications.tests.factories import CandidateFactory
from ecandidat.batches import Report
from offers.models import ComplementaryForm, is_web_address
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french")]

KEPT = "réponse importée de LimeSurvey le retient"
RETIRE = "Mettez plutôt le formulaire hors service : décochez « En service » sur sa page."
NO_LINK = "commençant par https:// (ou http://) et le nom du serveur"


def make_form(code="ENQ", **fields):
    defaults = {
        "survey_id": 4242,
        "label": f"Questionnaire {code}",
        "candidate_label": f"Questionnaire {code}",
        "url": "https://enquetes.example/index.php/4242?numDossier=${numDossier}",
    }
    return ComplementaryForm.objects.create(code=code, **{**defaults, **fields})


@pytest.fixture
def application(centre, commission, campaign):
    candidate = CandidateFactory(user__campaign=campaign, user__username="AB000001")
    formation = FormationFactory(centre=centre, commission=commission)
    return Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )


def answered(form, application):
    return FormAnswer.objects.create(
        form=form, candidate=application.candidate, answers={"Q01": "Oui"}, submitted_at=timezone.now()
    )


# --- a form answered is not deleted -------------------------------------------------------------------------------


def _delete_url(form):
    return reverse("admin:offers_complementaryform_delete", args=[form.pk])


def test_a_form_answered_cannot_be_deleted_at_all(application):
    form = make_form()
    answered(form, application)

    with pytest.raises(ProtectedError):
        form.delete()


def test_the_superuser_is_told_why_the_answered_form_stays(client, superuser, application, django_assert_num_queries):
    """Regression: the delete page listed nothing to worry about and « Oui, je suis sûr » deleted the form and every
    answer imported from LimeSurvey, the archived campaigns' too, which the nightly import never brings back."""
    form = make_form()
    answer = answered(form, application)
    client.force_login(superuser)

    # Session, user, the view's savepoint and its release, the form, the forms' answer counts (no answer read one by
    # one), the maintenance switch.
    with django_assert_num_queries(7):
        page = client.get(_delete_url(form))
    posted = client.post(_delete_url(form), {"post": "yes"})

    for response in (page, posted):
        assert response.status_code == 200
        assertContains(response, "Impossible de supprimer")
        assertContains(response, f"Formulaire complémentaire « Questionnaire ENQ » : 1 {KEPT}")
        assertContains(response, RETIRE)
    assert len(page.context["protected"]) == 1  # one line for the form, not one per answer
    assert FormAnswer.objects.get() == answer
    assert ComplementaryForm.objects.filter(pk=form.pk).exists()


def test_the_bulk_deletion_says_it_once_per_form(client, superuser, application):
    first, second, unanswered = make_form("A"), make_form("B", survey_id=2), make_form("C", survey_id=3)
    answered(first, application)
    answered(second, application)
    FormAnswer.objects.create(form=second, candidate=application.candidate, application=application)
    client.force_login(superuser)

    page = client.post(
        reverse("admin:offers_complementaryform_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk, unanswered.pk], "post": "yes"},
    )

    assertContains(page, f"« Questionnaire A » : 1 {KEPT}")
    assertContains(page, "« Questionnaire B » : 2 réponses importées de LimeSurvey le retiennent")
    assertNotContains(page, "Questionnaire C »")
    assert ComplementaryForm.objects.count() == 3
    assert FormAnswer.objects.count() == 3


@pytest.fixture
def manager_client(client, centre_manager):
    codenames = [f"{action}_complementaryform" for action in ("view", "change", "delete")]
    centre_manager.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(centre_manager)
    return client


def test_the_centre_manager_is_told_why_their_answered_form_stays(
    manager_client, centre, application, django_assert_num_queries
):
    form = make_form(centre=centre)
    answered(form, application)

    # As the superuser's, with the manager's memberships and their permissions (their own and their groups').
    with django_assert_num_queries(9):
        page = manager_client.get(_delete_url(form))
    posted = manager_client.post(_delete_url(form), {"post": "yes"})

    for response in (page, posted):
        assert response.status_code == 200
        assertContains(response, f"Formulaire complémentaire « Questionnaire ENQ » : 1 {KEPT}")
        assertContains(response, RETIRE)
    assert FormAnswer.objects.count() == 1
    assert ComplementaryForm.objects.filter(pk=form.pk).exists()


def test_a_form_nobody_answered_is_still_deleted(manager_client, superuser, client, centre, application):
    own = make_form(centre=centre)
    institution = make_form("ALL", survey_id=2)
    application.formation.forms.add(own)

    assert manager_client.post(_delete_url(own), {"post": "yes"}).status_code == 302
    client.force_login(superuser)
    assert client.post(_delete_url(institution), {"post": "yes"}).status_code == 302

    assert not ComplementaryForm.objects.exists()
    assert not application.formation.forms.exists()


# --- a URL candidates cannot open is refused ----------------------------------------------------------------------


def _form_data(**fields):
    return {
        "code": "NEW",
        "survey_id": 7,
        "label": "Questionnaire",
        "candidate_label": "Questionnaire",
        "candidate_label_en": "",
        "url": "https://enquetes.univ.example/index.php/4?numDossier=${numDossier}",
        "centre": "",
        "in_service": "on",
        **fields,
    }


@pytest.mark.parametrize(
    "url",
    [
        "enquetes.univ.example/index.php/4?numDossier=${numDossier}",
        "www.enquetes.univ.example/index.php/4",
        "javascript:alert(1)//${numDossier}",
        "https:///index.php/4",
        "${numDossier}",
    ],
)
def test_a_url_without_its_scheme_is_refused_next_to_it(client, superuser, url, django_assert_num_queries):
    """Regression: « enquetes.univ.example/index.php/4?numDossier=${numDossier} » was saved; the candidates' tab
    then showed an empty link, the reminder mails too, and the form, never answered, kept applications from being
    transmitted when the forms block the transmission."""
    client.force_login(superuser)

    # Session, user, two savepoints and their releases, the code's and the survey id's uniqueness, the maintenance
    # switch, the content type, then the add page again with its centres: nothing written.
    with django_assert_num_queries(11):
        response = client.post(reverse("admin:offers_complementaryform_add"), _form_data(url=url))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["url"]
    assert errors["url"][0].startswith(f"Saisissez l'adresse complète, {NO_LINK}")
    assertContains(response, NO_LINK)
    assert not ComplementaryForm.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://enquetes.univ.example/index.php/4?numDossier=${numDossier}&idCandidature=${idCandidature}",
        "http://enquetes.univ.example:8080/index.php/4?nom=${nom}&prenom=${prenom}",
    ],
)
def test_a_whole_url_is_saved(client, superuser, url):
    client.force_login(superuser)

    response = client.post(reverse("admin:offers_complementaryform_add"), _form_data(url=url))

    assert response.status_code == 302
    assert ComplementaryForm.objects.get().url == url


@pytest.mark.parametrize(
    ("url", "opened"),
    [
        ("https://enquetes.example/4", True),
        ("HTTPS://enquetes.example/4", True),
        ("enquetes.example/4", False),
        ("//enquetes.example/4", False),
        ("ftp://enquetes.example/4", False),
        ("https://[::1/4", False),
        ("", False),
    ],
)
def test_a_web_address_has_an_http_scheme_and_a_host(url, opened):
    assert is_web_address(url) is opened


# --- the nightly import -------------------------------------------------------------------------------------------


def row(rid, submitdate, **fields):
    return {"id": rid, "submitdate": submitdate, "numDossier": "AB000001", "idCandidature": "", **fields}


@pytest.mark.parametrize("spelling", [str.upper, lambda text: f"{{{text}}}", lambda text: f"urn:uuid:{text}"])
def test_the_newest_answer_wins_whatever_the_spelling_of_the_application(application, spelling):
    """Regression: responses were grouped by the raw ``idCandidature``: an older one naming the application in upper
    case (or in braces, or as a URN), read after the newest, replaced it."""
    form = make_form()
    public_id = str(application.public_id)
    report = Report()

    store_responses(
        form,
        [
            row(2, "2027-03-05 09:00:00", idCandidature=public_id, Q01="Nouvelle"),
            row(1, "2027-03-02 10:00:00", idCandidature=spelling(public_id), Q01="Ancienne"),
        ],
        report,
    )

    stored = FormAnswer.objects.get(form=form, application=application)
    assert stored.answers == {"Q01": "Nouvelle"}
    assert stored.submitted_at == timezone.make_aware(datetime.datetime(2027, 3, 5, 9))
    assert report.counts["answers stored"] == 1


def test_an_unreadable_application_is_still_counted_once(application):
    report = Report()

    store_responses(make_form(), [row(1, "2027-03-02 10:00:00", idCandidature="pas-un-uuid", Q01="?")], report)

    assert not FormAnswer.objects.exists()
    assert report.counts["responses naming an unknown application"] == 1


NESTED = {"Q01": ["Mon\x00projet", {"clé\x00": "valeur\ud800"}], "Q02": {"sous": {"question": "a\x00b"}}, "Q03": 3}
CLEANED = {"Q01": ["Mon?projet", {"clé?": "valeur?"}], "Q02": {"sous": {"question": "a?b"}}, "Q03": 3}


def test_a_nul_nested_in_an_answer_is_replaced_too():
    report = Report()

    assert _answers({"id": 1, "submitdate": "2027-03-02 10:00:00", **NESTED}, report) == CLEANED
    assert report.counts["answers holding characters the database refuses (replaced by ?)"] == 2


def test_a_nul_nested_in_an_answer_does_not_stop_the_import(application):
    """Regression: only a text answer was cleaned; a NUL in a list or a dict reached the JSON column, which
    PostgreSQL refuses: the survey's whole import failed, every night, for every candidate."""
    form = make_form()
    report = Report()

    store_responses(form, [row(1, "2027-03-02 10:00:00", **NESTED)], report)

    assert FormAnswer.objects.get(form=form).answers == CLEANED
    assert report.counts["answers stored"] == 1
