"""The dossier PDF (« Télécharger mon dossier », the staff's download, the commission's packs) holds the complementary
forms' answers (ecandidat-features §1.13), as the staff reading page and the candidate's tab show them: each form's
label and status in the reader's language, then its answers. They were left out: a commission reading the pack
never saw them."""

import io

import pypdfium2 as pdfium
import pytest
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader

from applications.dossier_pdf import build_dossier_pdf
from applications.models import FormAnswer
from applications.tests.factories_candidature import make_application
from documents.tests.fixtures import clear_memory_cache
from offers.models import ComplementaryForm
from offers.tests.factories import FormationFactory, make_question

pytestmark = pytest.mark.django_db


def make_form(code: str, **fields) -> ComplementaryForm:
    defaults = {
        "survey_id": int.from_bytes(code.encode(), "big") % 10**9,
        "label": f"Libellé gestion {code}",
        "candidate_label": f"Questionnaire {code}",
        "url": "https://enquetes.example/index.php/42?numDossier=${numDossier}",
    }
    return ComplementaryForm.objects.create(code=code, **{**defaults, **fields})


def answer(form, application, answers, *, own=True) -> FormAnswer:
    return FormAnswer.objects.create(
        form=form,
        candidate=application.candidate,
        application=application if own else None,
        answers=answers,
        submitted_at=timezone.now(),
    )


@pytest.fixture(autouse=True)
def _empty_rate_limits():
    """The downloads' fair-use counters live in the in-memory default cache: each test starts with none."""
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def summary_text(application, language="fr") -> str:
    with translation.override(language), build_dossier_pdf(application) as output:
        return pdf_text(output.read())


def test_the_dossier_holds_each_forms_status_and_answers(application, formation):
    answered = make_form("ENERGIE", candidate_label="Questionnaire énergie")
    waiting = make_form("LANGUES", candidate_label="Niveau de langues")
    conditional = make_form("BOURSE", candidate_label="Situation de boursier", is_conditional=True)
    formation.forms.add(answered, waiting, conditional)
    formation.questions.add(make_question("PROJET", candidate_label="Décrivez votre projet."))
    answer(answered, application, {"Pourquoi ce master ?": "Passion energie", "Q2": "Oui, après ma licence"})
    # Declared before the application was transmitted (``declare_form_not_concerned``).
    FormAnswer.objects.create(
        form=conditional, candidate=application.candidate, application=application, not_concerned=True
    )

    text = summary_text(application)

    assert "Questions complémentaires Décrivez votre projet. : En attente Formulaires complémentaires" in text
    # The forms in the rows' order (their staff labels': BOURSE, ENERGIE, LANGUES), with the page's French words.
    assert (
        "Formulaires complémentaires "
        "Situation de boursier : Non concerné "
        "Questionnaire énergie : Transmise Pourquoi ce master ? Passion energie Q2 Oui, après ma licence "
        "Niveau de langues : En attente"
    ) in text


def test_a_formation_without_forms_has_no_forms_section(application):
    assert "Formulaires complémentaires" not in summary_text(application)


def test_the_candidates_answer_for_all_their_applications_is_shown(application, formation):
    """A form answered with ``numDossier`` only is answered for every application, as on the reading page."""
    form = make_form("CV")
    formation.forms.add(form)
    answer(form, application, {"Langues parlées": "Français, Ελληνικά, Русский"}, own=False)

    text = summary_text(application)

    assert "Questionnaire CV : Transmise Langues parlées Français, Ελληνικά, Русский" in text


def test_an_english_reader_reads_the_forms_in_english(application, formation):
    form = make_form("ENERGIE", candidate_label="Questionnaire énergie", candidate_label_en="Energy survey")
    formation.forms.add(form, make_form("LANGUES", candidate_label="Niveau de langues"))
    answer(form, application, {"Pourquoi ce master ?": "Passion energie"})

    english = summary_text(application, "en")

    assert "Complementary forms Energy survey: Submitted Pourquoi ce master ? Passion energie" in english
    assert "Niveau de langues: Waiting" in english  # no English label: the French one, as on the pages
    assert "Questionnaire énergie" not in english
    assert "Formulaires complémentaires" not in english


def test_a_long_answer_wraps_inside_the_page(application, formation):
    """A LimeSurvey text answer may be an essay, or one endless word: it wraps in its column, onto the next pages,
    and no character is drawn past the page's right margin."""
    form = make_form("ESSAI")
    formation.forms.add(form)
    essay = " ".join(f"mot{index}é" for index in range(1200))
    word = "x" * 400
    answer(form, application, {"Projet": essay, "Sans espace": word})

    with translation.override("fr"), build_dossier_pdf(application) as output:
        content = output.read()

    text = pdf_text(content)
    assert "Projet mot0é mot1é" in text
    assert "mot1199é" in text
    assert "".join(text.split("Sans espace", 1)[1].split()).startswith(word)  # whole, cut only by line ends
    document = pdfium.PdfDocument(content)
    try:
        assert len(document) > 2  # the essay goes on over the next pages
        for page in document:
            width = page.get_width()
            textpage = page.get_textpage()
            right_edges = [textpage.get_charbox(index)[2] for index in range(textpage.count_chars())]
            assert max(right_edges) <= width - 18 / 25.4 * 72 + 1  # the right margin (18 mm), a point of slack
    finally:
        document.close()


@pytest.mark.parametrize("count", [1, 3])
def test_the_candidates_download_shows_the_forms_in_constant_queries(
    client, application, formation, count, django_assert_num_queries
):
    """The candidate sees their own answers on their tab: their « Télécharger mon dossier » shows them too. The
    query count does not grow with the forms nor their answers (the commission's packs build hundreds of PDFs)."""
    for index in range(count):
        form = make_form(f"F{index}")
        formation.forms.add(form)
        answer(form, application, {f"Question {index}.{number}": f"Réponse {index}.{number}" for number in range(5)})
    client.language = "fr"
    client.force_login(application.candidate.user)
    url = reverse("pieces:dossier_pdf", args=[application.public_id])

    # The forms cost two of them (forms_tab.form_rows: the forms, their answers), one when none applies.
    with django_assert_num_queries(18):
        response = client.get(url)
        content = b"".join(response.streaming_content)

    assert response.status_code == 200
    text = pdf_text(content)
    for index in range(count):
        assert f"Questionnaire F{index} : Transmise Question {index}.0 Réponse {index}.0" in text
        assert f"Question {index}.4 Réponse {index}.4" in text


@pytest.mark.parametrize("count", [1, 3])
def test_the_staff_download_shows_the_forms_in_constant_queries(
    client, centre_manager, application, formation, count, django_assert_num_queries
):
    for index in range(count):
        form = make_form(f"F{index}")
        formation.forms.add(form)
        answer(form, application, {"Pourquoi ce master ?": f"Passion {index}"})
    client.language = "fr"
    client.force_login(centre_manager)
    url = reverse("pieces:staff_dossier_pdf", args=[application.public_id])

    with django_assert_num_queries(19):  # the candidate's download's, and the staff's membership
        response = client.get(url)
        content = b"".join(response.streaming_content)

    assert response.status_code == 200
    text = pdf_text(content)
    for index in range(count):
        assert f"Questionnaire F{index} : Transmise Pourquoi ce master ? Passion {index}" in text
