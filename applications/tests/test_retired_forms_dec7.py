"""The complementary forms after the review of 2026-12-07.

- A form with answers is retired by putting it out of service (``offers.admin``), or taken off its formation: its
  imported answers stayed in the database and in the export, but left the staff's dossier page and the dossier PDF,
  which read only the forms still offered. They follow now (``forms_tab.form_rows(..., unlisted=True)``, as the
  questions' ``question_rows``), "Transmise", without link nor declaration; the candidate's tab, the forms that
  block the transmission and the reminder still list only the forms offered.
- A LimeSurvey answer of several paragraphs keeps its line breaks on the staff page and on the candidate's tab.
"""

import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains

from applications.dossier_pdf import build_dossier_pdf
from applications.forms_tab import form_rows, missing_forms
from applications.models import Application, FormAnswer, PieceSubmission
from applications.services.complementary_forms import remind_unanswered_forms
from applications.tests.factories_candidature import ApplicationFactory, complete_candidate, make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from documents.tests.fixtures import clear_memory_cache
from ecandidat.models import OutboundEmail
from offers.models import ComplementaryForm
from offers.tests.factories import CentreFactory, FormationFactory

pytestmark = pytest.mark.django_db

ESSAY = "Paragraphe un.\n\n- point A"
ESSAY_HTML = "Paragraphe un.<br><br>- point A"


def make_form(code, **fields) -> ComplementaryForm:
    defaults = {
        "survey_id": int.from_bytes(code.encode(), "big") % 10**9,
        "label": f"Gestion {code}",
        "candidate_label": f"Questionnaire {code}",
        "url": "https://enquetes.example/index.php/42?numDossier=${numDossier}",
    }
    return ComplementaryForm.objects.create(code=code, **{**defaults, **fields})


def answer(form, application, answers, *, own=True, submitted=True, **fields) -> FormAnswer:
    return FormAnswer.objects.create(
        form=form,
        candidate=application.candidate,
        application=application if own else None,
        answers=answers,
        submitted_at=timezone.now() if submitted else None,
        **fields,
    )


def retire(form) -> None:
    """What the admin tells staff to do with a form that has answers (``offers.admin``)."""
    form.in_service = False
    form.save(update_fields=["in_service"])


@pytest.fixture(autouse=True)
def _fresh_caches(db):
    """The downloads' fair-use counters (in-memory cache) and the content types the pages read."""
    clear_memory_cache()
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(PieceSubmission)
    yield
    clear_memory_cache()


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


def read(application) -> Application:
    """The application as the pages read it (formation and candidate joined)."""
    return Application.objects.select_related("candidate__user", "formation").get(pk=application.pk)


@pytest.fixture
def forms_of_all_kinds(application, formation, centre, campaign):
    """One offered form, and answers to forms no longer offered: which of them the dossier keeps.

    Kept: the application's own answer to a form put out of service, or taken off the formation; the candidate's
    shared answer to a form out of service still attached to the formation, or common to its centre or to the
    institution. Left out: a shared answer to another centre's form or to another formation's; a "Non concerné"
    declaration (no answer); another application's own answer."""
    offered = make_form("OFFERED")
    retired_own = make_form("RETIRED_OWN")
    detached_own = make_form("DETACHED_OWN")
    retired_attached = make_form("RETIRED_ATTACHED")
    retired_centre = make_form("RETIRED_CENTRE", is_common=True, centre=centre)
    retired_institution = make_form("RETIRED_INST", is_common=True)
    other_centre = make_form("OTHER_CENTRE", is_common=True, centre=CentreFactory())
    other_formation = make_form("OTHER_FORMATION")
    declared = make_form("DECLARED", is_conditional=True)
    of_another_application = make_form("ANOTHER_APP")
    formation.forms.add(offered, retired_own, detached_own, retired_attached, declared, of_another_application)
    FormationFactory(centre=centre, commission=formation.commission).forms.add(other_formation)

    answer(offered, application, {"Q1": "offert"})
    answer(retired_own, application, {"Q1": "propre", "Q0": "zéro"})
    answer(detached_own, application, {"Q1": "détaché"})
    answer(retired_attached, application, {"Q1": "partagé attaché"}, own=False)
    answer(retired_centre, application, {"Q1": "commun au centre"}, own=False)
    answer(retired_institution, application, {"Q1": "commun à l'établissement"}, own=False)
    answer(other_centre, application, {"Q1": "autre centre"}, own=False)
    answer(other_formation, application, {"Q1": "autre formation"}, own=False)
    answer(declared, application, {}, submitted=False, not_concerned=True)
    another = ApplicationFactory(candidate=application.candidate, formation=FormationFactory(centre=centre))
    answer(of_another_application, another, {"Q1": "autre candidature"})

    for form in (retired_own, retired_attached, retired_centre, retired_institution, declared, of_another_application):
        retire(form)
    retire(other_centre)
    formation.forms.remove(detached_own)


# --- the rows -----------------------------------------------------------------------------------------------------


def test_unlisted_rows_keep_the_answers_of_forms_retired_or_taken_off_the_formation(
    application, forms_of_all_kinds, django_assert_num_queries
):
    application = read(application)

    with django_assert_num_queries(2):  # the forms (listed or answered), their answers
        rows = form_rows(application, unlisted=True)

    assert [row.form.code for row in rows] == [
        "OFFERED",
        # Those no longer offered after the offered ones, in the same order (their staff labels).
        "DETACHED_OWN",
        "RETIRED_ATTACHED",
        "RETIRED_CENTRE",
        "RETIRED_INST",
        "RETIRED_OWN",
    ]
    offered, *unlisted = rows
    assert offered.listed
    assert offered.url
    for row in unlisted:
        assert (row.status, row.url, row.listed) == ("TR", "", False)
        assert not row.can_declare_not_concerned
        assert not row.can_declare_concerned
    by_code = {row.form.code: row for row in rows}
    assert by_code["RETIRED_OWN"].answer_items == [("Q0", "zéro"), ("Q1", "propre")]
    assert by_code["RETIRED_ATTACHED"].answer_items == [("Q1", "partagé attaché")]
    assert by_code["RETIRED_INST"].answer_items == [("Q1", "commun à l'établissement")]


def test_the_applications_own_answer_wins_over_the_shared_one_on_a_retired_form(application, formation):
    form = make_form("BOTH")
    formation.forms.add(form)
    answer(form, application, {"Q1": "partagée"}, own=False)
    answer(form, application, {"Q1": "la mienne"})
    retire(form)

    (row,) = form_rows(read(application), unlisted=True)

    assert row.answer_items == [("Q1", "la mienne")]


def test_a_retired_form_answered_nowhere_adds_no_query(application, formation, django_assert_num_queries):
    """A formation without form, or whose forms were retired unanswered: one query, as before."""
    retire(make_form("UNANSWERED", is_common=True))
    application = read(application)

    with django_assert_num_queries(1):
        assert form_rows(application, unlisted=True) == []


def test_the_candidates_tab_the_blocking_forms_and_the_reminder_list_only_the_forms_offered(
    application, forms_of_all_kinds, centre_manager, settings
):
    settings.FORMS_BLOCK_TRANSMISSION = True
    rows = form_rows(application)  # the candidate's tab, the transmission, the reminder

    assert [row.form.code for row in rows] == ["OFFERED"]
    assert missing_forms(application) == []
    waiting = make_form("WAITING")
    application.formation.forms.add(waiting)
    assert remind_unanswered_forms(application=application, actor=centre_manager) == 1
    body = OutboundEmail.objects.get(code="CANDIDATURE_RELANCE_FORMULAIRE").body
    assert "Questionnaire WAITING" in body
    assert "RETIRED" not in body
    assert [row.form.code for row in missing_forms(application)] == ["WAITING"]


def test_the_candidates_recap_does_not_list_the_retired_forms(client, campaign, formation, django_assert_num_queries):
    applicant = complete_candidate(user__campaign=campaign)
    application = ApplicationFactory(candidate=applicant, formation=formation)
    offered, retired = make_form("OFFERED"), make_form("RETIRED")
    formation.forms.add(offered, retired)
    answer(retired, application, {"Q1": "retirée"})
    retire(retired)
    client.force_login(applicant.user)

    with django_assert_num_queries(8):  # as test_a11y_lang_marks' recap with a form
        response = client.get(reverse("applications:detail", args=[application.public_id]))

    assertContains(response, "Questionnaire OFFERED")
    assertNotContains(response, "Questionnaire RETIRED")


# --- the staff's dossier page -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.usefixtures("back_office_in_french")
def test_the_staff_page_shows_the_answers_of_retired_forms_in_constant_queries(
    client, centre_manager, application, formation, count, django_assert_num_queries
):
    for index in range(count):
        own, shared = make_form(f"OWN{index}"), make_form(f"SHARED{index}")
        formation.forms.add(own, shared)
        answer(own, application, {"Pourquoi ?": f"Propre {index}"})
        answer(shared, application, {"Pourquoi ?": f"Partagée {index}"}, own=False)
        retire(own)
        retire(shared)
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 1):  # + the forms' answers
        response = client.get(change_url(application))

    assert [row.listed for row in response.context["form_rows"]] == [False] * 2 * count
    for index in range(count):
        assertContains(response, f"Questionnaire OWN{index}</span> — Transmise")
        assertContains(response, f"<dd>Propre {index}</dd>")
        assertContains(response, f"<dd>Partagée {index}</dd>")
    assertNotContains(response, "Aucun formulaire complémentaire pour cette formation.")
    assertNotContains(response, "enquetes.example")


@pytest.mark.usefixtures("back_office_in_french")
def test_the_staff_page_keeps_the_paragraphs_of_an_answer_escaped(
    client, centre_manager, application, formation, django_assert_num_queries
):
    form = make_form("ESSAI")
    formation.forms.add(form)
    answer(form, application, {"Projet": ESSAY, "Piège": "<script>alert(1)</script>\nfin"})
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 1):
        response = client.get(change_url(application))

    assertContains(response, f"<dd>{ESSAY_HTML}</dd>")
    assertContains(response, "<dd>&lt;script&gt;alert(1)&lt;/script&gt;<br>fin</dd>")
    assertNotContains(response, "<script>alert(1)")


# --- the candidate's tab ------------------------------------------------------------------------------------------


def test_the_candidates_tab_keeps_the_paragraphs_of_an_answer_escaped(
    client, campaign, formation, django_assert_num_queries
):
    applicant = complete_candidate(user__campaign=campaign)
    application = ApplicationFactory(candidate=applicant, formation=formation)
    form = make_form("ESSAI")
    formation.forms.add(form)
    answer(form, application, {"Projet": ESSAY, "Piège": "<script>alert(1)</script>\nfin"})
    client.force_login(applicant.user)

    with django_assert_num_queries(8):  # as test_a11y_lang_marks' recap with a form
        response = client.get(reverse("applications:detail", args=[application.public_id]))

    assertContains(response, f"<dd>{ESSAY_HTML}</dd>")
    assertContains(response, "<dd>&lt;script&gt;alert(1)&lt;/script&gt;<br>fin</dd>")
    assertNotContains(response, "<script>alert(1)")


# --- the dossier PDF ----------------------------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_the_dossier_pdf_holds_the_answers_of_forms_no_longer_offered(application, forms_of_all_kinds):
    with translation.override("fr"), build_dossier_pdf(application) as output:
        text = pdf_text(output.read())

    assert (
        "Formulaires complémentaires "
        "Questionnaire OFFERED : Transmise Q1 offert "
        "Questionnaire DETACHED_OWN : Transmise Q1 détaché "
        "Questionnaire RETIRED_ATTACHED : Transmise Q1 partagé attaché "
        "Questionnaire RETIRED_CENTRE : Transmise Q1 commun au centre "
        "Questionnaire RETIRED_INST : Transmise Q1 commun à l'établissement "
        "Questionnaire RETIRED_OWN : Transmise Q0 zéro Q1 propre"
    ) in text
    for left_out in ("autre centre", "autre formation", "autre candidature", "DECLARED", "Non concerné"):
        assert left_out not in text


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize(("url_name", "queries"), [("pieces:dossier_pdf", 18), ("pieces:staff_dossier_pdf", 19)])
def test_the_dossier_downloads_show_retired_forms_in_constant_queries(
    client, centre_manager, application, formation, count, url_name, queries, django_assert_num_queries
):
    """The queries of test_dossier_pdf_forms' downloads with offered forms: the forms, their answers."""
    for index in range(count):
        form = make_form(f"F{index}")
        formation.forms.add(form)
        answer(form, application, {"Pourquoi ce master ?": f"Passion {index}"})
        retire(form)
    client.language = "fr"
    client.force_login(application.candidate.user if url_name == "pieces:dossier_pdf" else centre_manager)

    with django_assert_num_queries(queries):
        response = client.get(reverse(url_name, args=[application.public_id]))
        content = b"".join(response.streaming_content)

    assert response.status_code == 200
    text = pdf_text(content)
    for index in range(count):
        assert f"Questionnaire F{index} : Transmise Pourquoi ce master ? Passion {index}" in text
