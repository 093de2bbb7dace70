"""Decision letters (issue 12), two fixes:

- a formation's own letter text is its letter wherever it is filed: a formation moved to another centre (with its
  commission) kept its text under the former centre, and its candidates got the new centre's generic letter (or
  none), the text could no longer be saved, and its letters waiting to be built did not keep it from deletion. The
  formation's form now moves its texts along, in its transaction, each move in the text's history;
- the letter's PDF declares the language its text is written in (French, ``DecisionLetterTemplate.FRENCH_TEXTS``),
  not the candidate's: a screen reader read the French letter of an English-speaking candidate as English.

And a letter text (or a decision type's mail text) longer than ``ecandidat.mail_templates.MAX_SOURCE_LENGTH`` is
refused next to its field before it is read (checking it took seconds)."""

import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from applications.letters import build_letter, letters_waiting_for, template_for
from applications.models import DecisionLetter
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import released
from ecandidat.mail_templates import MAX_SOURCE_LENGTH
from offers.enums import Avis
from offers.models import DecisionLetterTemplate, DecisionType
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.django_db

ADMISSION = DecisionLetterTemplate.Kind.ADMISSION


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def own_text(centre, formation):
    return DecisionLetterTemplate.objects.create(
        kind=ADMISSION, centre=centre, formation=formation, title="Propre à MINFO", body="Bienvenue en MINFO."
    )


@pytest.fixture
def generic_text(other_centre):
    return DecisionLetterTemplate.objects.create(
        kind=ADMISSION, centre=other_centre, title="Lettre générique", body="Vous êtes admis."
    )


@pytest.fixture
def moved(formation, commission, other_centre):
    """The formation and its commission moved to ``other_centre`` without the form: the text stays behind, as
    every formation moved before the fix left it."""
    commission.centre = other_centre
    commission.save()
    formation.centre = other_centre
    formation.save()
    return formation


def pdf_of(letter: DecisionLetter) -> tuple[str, PdfReader]:
    with default_storage.open(letter.file.name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return "\n".join(page.extract_text() for page in reader.pages), reader


# --- the formation's own text, wherever it is filed -----------------------------------------------------------------


def test_a_formation_moved_keeps_its_own_letter(own_text, generic_text, moved, campaign, centre_manager):
    """The reviewer's proof: the built letter had the new centre's generic text."""
    application = released(moved, campaign, centre_manager)

    text, _reader = pdf_of(build_letter(DecisionLetter.objects.get(application=application).pk))

    assert "Propre à MINFO" in text
    assert "Bienvenue en MINFO." in text
    assert "Lettre générique" not in text


def test_a_formation_moved_to_a_centre_without_letters_still_has_one(own_text, moved, campaign, centre_manager):
    application = released(moved, campaign, centre_manager)

    assert template_for(application, ADMISSION) == own_text
    assert DecisionLetter.objects.filter(application=application).exists()


def test_another_centres_generic_text_is_never_a_formations_letter(formation, generic_text, campaign, centre_manager):
    application = released(formation, campaign, centre_manager)

    assert template_for(application, ADMISSION) is None
    assert not DecisionLetter.objects.exists()


def test_a_letter_waiting_for_a_moved_formations_text_keeps_it(
    own_text, generic_text, moved, campaign, centre_manager, django_assert_num_queries
):
    released(moved, campaign, centre_manager)  # its build queued, not run

    with django_assert_num_queries(2):
        lines = letters_waiting_for([own_text])
    with django_assert_num_queries(2):
        generic_lines = letters_waiting_for([generic_text])

    assert len(lines) == 1
    assert "“Propre à MINFO”: 1 letter of a released decision is not built yet" in lines[0]
    assert generic_lines == []  # built from the formation's own text, not the new centre's


# --- the formation's form moves its texts along ---------------------------------------------------------------------


def _form_data(formation, **changes) -> dict:
    return {
        "code": formation.code,
        "title": formation.title,
        "centre": formation.centre_id,
        "commission": formation.commission_id,
        "diploma_type": formation.diploma_type_id,
        "mode": formation.mode,
        "in_service": "on",
        "opens_on": formation.opens_on.isoformat(),
        "closes_on": formation.closes_on.isoformat(),
        "return_deadline": formation.return_deadline.isoformat(),
        "confirmation_date": formation.confirmation_date.isoformat(),
        "treatment_type": "AC",
        **changes,
    }


def test_moving_a_formation_in_its_form_moves_its_own_texts_with_their_history(
    client, superuser, formation, own_text, generic_text, other_centre, django_assert_num_queries
):
    refusal = DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.REFUSAL, centre=formation.centre, formation=formation, title="R", body="b"
    )
    centre_wide = DecisionLetterTemplate.objects.create(kind=ADMISSION, centre=formation.centre, title="C", body="c")
    new_commission = CommissionFactory(centre=other_centre)
    client.force_login(superuser)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = _form_data(formation, centre=other_centre.pk, commission=new_commission.pk)

    # As a formation saved in its centre (41), and its two texts moved: read and locked in a savepoint (3), each
    # saved (2), their content type (1) and each one's history (2).
    with django_assert_num_queries(53 + 8):
        response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    own_text.refresh_from_db()
    refusal.refresh_from_db()
    centre_wide.refresh_from_db()
    assert (own_text.centre, refusal.centre) == (other_centre, other_centre)
    assert centre_wide.centre == formation.centre  # the former centre's own text stays
    own_text.full_clean()  # it can be saved again: the formation belongs to its centre
    entries = LogEntry.objects.filter(
        content_type__model="decisionlettertemplate", object_id__in=[str(own_text.pk), str(refusal.pk)]
    )
    assert entries.count() == 2
    assert {(entry.user, entry.action_flag) for entry in entries} == {(superuser, CHANGE)}
    with translation.override("en"):
        assert {entry.get_change_message() for entry in entries} == {"Changed centre."}


def test_a_formation_saved_in_its_centre_moves_nothing(
    client, superuser, formation, own_text, django_assert_num_queries
):
    client.force_login(superuser)
    url = reverse("admin:offers_formation_change", args=[formation.pk])

    with django_assert_num_queries(53):  # no letter text read
        response = client.post(url, _form_data(formation, title="Master Informatique et Réseaux"))

    assert response.status_code == 302
    own_text.refresh_from_db()
    assert own_text.centre_id == formation.centre_id
    assert not LogEntry.objects.filter(content_type__model="decisionlettertemplate").exists()


# --- the letter's language -------------------------------------------------------------------------------------------


def test_the_letter_of_an_english_speaking_candidate_says_it_is_in_french(
    formation, own_text, campaign, centre_manager, settings
):
    application = make_application(formation, campaign=campaign)
    application.candidate.preferred_language = "en"
    application.candidate.save()
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decision, actor=centre_manager)

    _text, reader = pdf_of(build_letter(DecisionLetter.objects.get(application=application).pk))

    assert settings.LANGUAGE_CODE == "fr"
    assert reader.trailer["/Root"]["/Lang"] == "fr"


def test_the_staff_preview_of_that_letter_says_so_too(
    client, formation, own_text, campaign, commission_member, centre_manager, django_assert_num_queries
):
    application = make_application(formation, campaign=campaign)
    application.candidate.preferred_language = "en"
    application.candidate.save()
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_letter_preview", args=[application.pk])

    with django_assert_num_queries(10):
        response = client.get(url)

    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert reader.trailer["/Root"]["/Lang"] == "fr"
    assert "Bienvenue en MINFO." in reader.pages[0].extract_text()


# --- the length of a text, next to its field (ecandidat.mail_templates.MAX_SOURCE_LENGTH) ---------------------------

REVIEWERS_BODY = "{if($first_name)}x" * 4000  # 72,000 characters: 7 s to check before the fix
TOO_LONG = f"This text is too long: 72000 characters, at most {MAX_SOURCE_LENGTH}."


@pytest.fixture
def _english():
    with translation.override("en"):  # the French catalogue may not be built: the messages are asserted in English
        yield


@pytest.mark.usefixtures("_english")
def test_a_letter_text_too_long_is_refused_next_to_its_body():
    letter = DecisionLetterTemplate(kind=ADMISSION, title="Admission", body=REVIEWERS_BODY)

    with pytest.raises(ValidationError) as error:
        letter.clean()

    assert error.value.message_dict == {"body": [TOO_LONG]}


@pytest.mark.usefixtures("_english")
def test_a_decision_type_mail_text_too_long_is_refused_next_to_its_body():
    decision_type = DecisionType(
        label="Favorable", mail_code="AVIS_FAVORABLE", mail_subject_fr="Avis", mail_body_fr=REVIEWERS_BODY
    )

    assert decision_type.mail_text_errors() == {"mail_body_fr": TOO_LONG}


@pytest.mark.usefixtures("_english")
def test_the_letter_form_says_so_next_to_the_body(client, superuser, centre, django_assert_num_queries):
    client.force_login(superuser)
    data = {"kind": ADMISSION, "centre": centre.pk, "formation": "", "title": "Admission", "body": REVIEWERS_BODY}

    # Session and user, the form's centre and its checks, the page's choices: the text itself reads nothing.
    with django_assert_num_queries(15):
        response = client.post(reverse("admin:offers_decisionlettertemplate_add"), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"body": [TOO_LONG]}
    assert not DecisionLetterTemplate.objects.exists()


def test_the_migration_files_the_texts_left_behind_with_their_formation(own_text, generic_text, moved, other_centre):
    """offers 0026: a formation moved before ``move_letter_texts`` left its own text under the old centre, which its
    form then refused to save; the migration files it under the formation's centre, and leaves the rest alone."""
    migration = importlib.import_module("offers.migrations.0026_letter_texts_follow_their_formation")
    in_place = DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.REFUSAL, centre=other_centre, formation=moved, title="R", body="Refus."
    )

    migration.file_with_their_formation(django_apps, None)
    migration.file_with_their_formation(django_apps, None)  # idempotent

    own_text.refresh_from_db()
    assert own_text.centre_id == other_centre.pk
    own_text.full_clean()  # the admin's check: saved again without picking the centre
    assert {text.pk: text.centre_id for text in DecisionLetterTemplate.objects.all()} == {
        own_text.pk: other_centre.pk,
        generic_text.pk: other_centre.pk,
        in_place.pk: other_centre.pk,
    }
