"""The summary pages of "Télécharger mon dossier" name what the dossier stores as codes: countries (ISO 3166-1
codes in the database) and départements (numbers), as the candidate's forms showed them; labels keep their
capitals ("INE et clé", not "Ine et clé")."""

import datetime
import io

import pytest
from django.utils import translation
from pypdf import PdfReader

from applications.dossier_pdf import ascii_name, build_dossier_pdf
from applications.enums import PieceStatus
from applications.tests.factories import AddressFactory, BaccalaureateFactory, ExternalCursusFactory
from applications.tests.factories_candidature import PieceSubmissionFactory, make_application
from ecandidat.tests.cjk import TEST_CJK_FONT
from offers.tests.factories import FormationFactory, PieceTypeFactory, make_question

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")
    application = make_application(formation, campaign=campaign)
    candidate = application.candidate
    candidate.birth_country = "MA"
    candidate.birth_department = ""
    candidate.birth_city = "Rabat"
    candidate.nationality = "ES"
    candidate.ine = "1234567890V"
    candidate.save()
    AddressFactory(candidate=candidate, country="BE", postal_code="", city="", foreign_city="Liège")
    BaccalaureateFactory(candidate=candidate, country="FR", department="66", city="Perpignan")
    ExternalCursusFactory(candidate=candidate, year=2023, label="Licence 3 Physique", country="DE", school="TU Berlin")
    return application


def summary_text(application, language="fr") -> str:
    with translation.override(language), build_dossier_pdf(application) as output:
        reader = PdfReader(io.BytesIO(output.read()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_countries_and_departements_are_named_not_coded(application):
    text = summary_text(application)

    assert "Pays de naissance Maroc" in text
    assert "Nationalité Espagne" in text
    assert "Commune étrangère Liège Pays Belgique" in text  # the address
    assert "Département Pyrénées-Orientales (66) Pays France" in text  # the baccalauréat's place
    assert "2023 - Licence 3 Physique - TU Berlin (Allemagne) - Obtenu" in text
    for code in ("Pays de naissance MA", "Nationalité ES", "Pays BE", "(DE)"):
        assert code not in text


def test_a_birth_in_france_names_its_departement(application):
    application.candidate.birth_country = "FR"
    application.candidate.birth_department = "2A"
    application.candidate.save()

    text = summary_text(application)

    assert "Département de naissance Corse-du-Sud (2A)" in text
    assert "Pays de naissance France" in text


def test_labels_keep_their_capitals(application):
    assert "INE et clé 1234567890V" in summary_text(application)
    assert "INE and key 1234567890V" in summary_text(application, "en")


def test_an_english_reader_reads_english_country_names(application):
    text = summary_text(application, "en")

    assert "Country of birth Morocco" in text
    assert "Nationality Spain" in text


def test_a_long_piece_label_is_cut_with_an_ellipsis(application):
    PieceSubmissionFactory(
        application=application,
        piece_type=PieceTypeFactory(
            is_conditional=True,
            label="Attestation de langue française de niveau B2 pour les candidats étrangers originaires de pays dont "
            "le français n'est pas la langue officielle",
        ),
        status=PieceStatus.NOT_CONCERNED,
    )

    text = summary_text(application)

    assert "dont le français n'est pa… : Non concerné" in text  # 120 characters, the ellipsis included
    assert "n'est pas : Non concerné" not in text


@pytest.mark.parametrize(
    ("language", "line"), [("fr", "Relevé de notes : Non concerné"), ("en", "Relevé de notes: Not concerned")]
)
def test_a_piece_line_is_punctuated_in_the_readers_language(application, language, line):
    """The English summary read "Relevé de notes : Not concerned", the French space before the colon included."""
    PieceSubmissionFactory(
        application=application,
        piece_type=PieceTypeFactory(is_conditional=True, label="Relevé de notes"),
        status=PieceStatus.NOT_CONCERNED,
    )

    text = summary_text(application, language)

    assert line in text


def test_an_english_reader_reads_the_pieces_and_questions_in_english(application):
    """As on the pages: a piece's English label when it has one (else its French label), the question in English,
    and the colon as English writes it; a French reader still reads « Lettre de motivation : En attente »."""
    application.formation.questions.add(
        make_question("PROJET", candidate_label="Décrivez votre projet.", candidate_label_en="Describe your plan.")
    )
    for label, label_en in (("Lettre de motivation", "Cover letter"), ("Justificatifs de stages", "")):
        application.formation.piece_types.add(PieceTypeFactory(label=label, label_en=label_en))

    english = summary_text(application, "en")
    french = summary_text(application)

    assert "Cover letter: Waiting" in english
    assert "Justificatifs de stages: Waiting" in english
    assert "Describe your plan.: Waiting" in english
    assert "Lettre de motivation" not in english
    assert " : " not in english
    assert "Lettre de motivation : En attente" in french
    assert "Décrivez votre projet. : En attente" in french


def test_a_section_without_rows_says_so(application):
    # The fixture's candidate has an external cursus, and no internal cursus, internship nor work experience.
    text = summary_text(application)

    assert "Cursus interne Néant." in text
    assert "Cursus externe 2023 - Licence 3 Physique" in text
    assert "Stages Néant. Expériences pro. Néant." in text


NAMES = ("ŞTEFĂNESCU", "Łukasz Nguyễn", "Σωκράτης", "Пётр", "Dvořák Đorđević Yıldız Œdipe")


def test_names_in_latin_greek_or_cyrillic_script_print_as_typed(application):
    # The PDFs used to be written with a Latin-1 core font: « Ş », « ł », « ễ » lost their accents, Greek and
    # Cyrillic became « ? ». The embedded DejaVu Sans writes them, in the summary and in a piece's header line.
    candidate = application.candidate
    (
        candidate.birth_name,
        candidate.usual_name,
        candidate.first_name,
        candidate.other_first_name,
        candidate.birth_city,
    ) = NAMES
    candidate.save()

    text = summary_text(application)

    for name in NAMES:
        assert name in text
    assert "Stefanescu" not in text
    assert "?" not in text


def test_a_script_the_font_lacks_prints_as_the_replacement_character_not_as_nothing(application):
    application.candidate.first_name = "王小明 Ahmed"
    application.candidate.save()

    text = summary_text(application)

    assert "\ufffd\ufffd\ufffd Ahmed" in text


def test_chinese_prints_with_a_fallback_font_in_the_summary(application, settings):
    # A Chinese candidate's names, address abroad and school used to reach the commission as « ��� ».
    settings.PDF_FALLBACK_FONTS = [(str(TEST_CJK_FONT), 0)]
    application.candidate.first_name = "小明 Ahmed"
    application.candidate.save()
    application.candidate.address.foreign_city = "北京"
    application.candidate.address.save()
    application.candidate.external_cursus.update(school="北京大学")

    text = summary_text(application).replace(
        "\x00", ""
    )  # pypdf and fpdf2's CFF encoding (ecandidat/tests/test_pdf.py)

    assert "小明 Ahmed" in text
    assert "Commune étrangère 北京 Pays Belgique" in text
    assert "北京大学" in text
    assert "\ufffd" not in text


def test_the_file_name_keeps_the_latin_letters_of_their_own():
    assert ascii_name("Łukasz Đorđević Øster Straße Œdipe") == "Lukasz-Dordevic-Oster-Strasse-OEdipe"
    assert ascii_name("Пётр") == "x"


def test_the_dates_of_candidature_and_transmission_are_the_sites_days(application):
    """Transmitted at 00:30 in Paris on 15 March (23:30 UTC on the 14th): the PDF printed 14/03/2026, the day
    before the pages and the history, on the date a candidate shows as proof of filing."""
    moment = datetime.datetime(2026, 3, 14, 23, 30, tzinfo=datetime.UTC)
    type(application).objects.filter(pk=application.pk).update(created_at=moment, transmitted_at=moment)
    application.refresh_from_db()

    text = summary_text(application)

    assert "Date de candidature 15/03/2026" in text
    assert "Date de transmission 15/03/2026" in text
