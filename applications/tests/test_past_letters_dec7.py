"""A past campaign's decision letter whose PDF is gone from the storage, or that was never built, is not built now
with the new year's text and values (found by review): ``open_letter`` gives None (nothing written, no history row),
the staff download goes back to the dossier saying why, a mail still in the outbox leaves without it; the active
campaign's letter whose file is gone is still built again."""

import datetime
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from applications.enums import EventKind
from applications.letters import STAFF_DOWNLOAD, attachment_content, letter_obtainable, open_letter
from applications.models import Application, DecisionLetter
from applications.tests.helpers import released
from ecandidat.attachments import AttachmentUnavailable
from offers.models import Campaign, DecisionLetterTemplate
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

LETTER_TEXT = "Vous êtes admis(e) en ${formation_title}."


@pytest.fixture
def last_year(db):
    return CampaignFactory(code="R2026", label="Campagne R2026", is_active=True)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre, commission=commission, code="M1ENER", title="Master Énergie", pegase_code="M1-ENER-PSOL"
    )


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title="Lettre d'admission",
        body=LETTER_TEXT,
        signatory="Jeanne DURAND, directrice",
    )


def archive(campaign: Campaign) -> Campaign:
    """The archiving night (``archive_campaigns``): ``campaign`` archived, the next one (returned) activated."""
    campaign.archive_on = timezone.localdate()
    campaign.save()
    CampaignFactory(code="R2027", starts_on=campaign.starts_on + datetime.timedelta(days=1))
    call_command("archive_campaigns", stdout=io.StringIO())
    following = Campaign.objects.get(is_active=True)
    assert following.code == "R2027"
    return following


def new_years_text(admission_text, formation) -> None:
    """After the rollover the office sets the new year up: a new signatory, the formation's title reused."""
    admission_text.signatory = "Paul MARTIN, directeur"
    admission_text.body = LETTER_TEXT + "\nNouvelle année."
    admission_text.save()
    formation.title = "Master Énergies renouvelables"
    formation.save()


def rebuilt_rows(application: Application) -> list:
    return list(application.events.filter(kind=EventKind.LETTER_REGENERATED))


def as_stored(letter: DecisionLetter) -> tuple:
    letter = DecisionLetter.objects.get(pk=letter.pk)
    return letter.file.name, letter.generated_at, letter.values_digest, letter.size


@pytest.fixture
def last_years_letter(formation, last_year, centre_manager, admission_text, django_capture_on_commit_callbacks):
    """An admission of last year, its letter built by the worker, then the archiving night."""
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, last_year, centre_manager)
    letter = DecisionLetter.objects.get(application=application)
    assert letter.file
    assert len(letter.values_digest) == 64
    archive(last_year)
    return letter


@pytest.fixture
def missing_letter(last_years_letter, admission_text, formation):
    """Last year's letter, its PDF gone from the storage, the new year's text set up."""
    default_storage.delete(last_years_letter.file.name)
    assert not default_storage.exists(last_years_letter.file.name)
    new_years_text(admission_text, formation)
    return last_years_letter


@pytest.fixture
def never_built_letter(formation, last_year, centre_manager, admission_text, django_capture_on_commit_callbacks):
    """An admission of last year whose letter the worker never built (its task never ran), then the archiving night
    and the new year's text."""
    with django_capture_on_commit_callbacks(execute=False):
        application = released(formation, last_year, centre_manager)
    letter = DecisionLetter.objects.get(application=application)
    assert not letter.file
    archive(last_year)
    new_years_text(admission_text, formation)
    return letter


PAST_LETTER_MISSING = (
    "Le fichier de cette lettre est manquant et n’est pas reconstruit : "
    "la candidature appartient à une campagne passée."
)


def change_page(letter):
    return reverse("admin:applications_application_change", args=[letter.application_id])


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_staff_download_of_last_years_missing_letter_builds_nothing(
    client, back_office_in_french, centre_manager, missing_letter, django_assert_num_queries
):
    """A dispute: last year's PDF is gone; the manager is told so on the dossier's page, not given a new PDF with
    today's date and text presented as the letter the candidate received; the row and the read-only application's
    history are unchanged."""
    before = as_stored(missing_letter)
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_letter", args=[missing_letter.application_id])

    # Session, user, savepoint, the manager's scope, the application and its scope check, the latest validated
    # decision with its letter, the letter's row with its campaign (``rebuild_changed_letters``: no other query to
    # know the campaign is past), the savepoint rolled back and released: no build (a savepoint, the row locked, the
    # text, the centre, the row updated, the history row).
    with django_assert_num_queries(10):
        response = client.get(url)

    assert (response.status_code, response["Location"]) == (302, change_page(missing_letter))
    assert PAST_LETTER_MISSING in messages_of(response)
    assert as_stored(missing_letter) == before
    assert not default_storage.exists(missing_letter.file.name)
    assert rebuilt_rows(missing_letter.application) == []


def test_open_letter_of_last_years_missing_letter_is_none(missing_letter):
    before = as_stored(missing_letter)

    assert open_letter(missing_letter, batch=STAFF_DOWNLOAD) is None

    assert as_stored(missing_letter) == before
    assert rebuilt_rows(missing_letter.application) == []


def test_a_mail_still_in_the_outbox_leaves_without_last_years_missing_letter(missing_letter):
    """A decision mail still in the outbox at the archiving does not carry a letter built with the new text."""
    before = as_stored(missing_letter)

    with pytest.raises(AttachmentUnavailable) as unavailable:
        attachment_content(str(missing_letter.pk))

    # The outbox's « Dernière erreur » says why (it said « the letter text was deleted », which was not so).
    assert str(unavailable.value) == "its campaign is no longer active: not built again"

    assert as_stored(missing_letter) == before
    assert rebuilt_rows(missing_letter.application) == []


def test_staff_download_of_last_years_never_built_letter_builds_nothing(
    client, back_office_in_french, centre_manager, never_built_letter, django_assert_num_queries
):
    before = as_stored(never_built_letter)
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_letter", args=[never_built_letter.application_id])

    # Session, user, savepoint, the manager's scope, the application and its scope check, the latest validated
    # decision with its letter; the build's savepoint, its row locked with its campaign, released; the savepoint
    # rolled back and released: no build (neither its text, nor the row updated, nor a history row).
    with django_assert_num_queries(12):
        response = client.get(url)

    assert (response.status_code, response["Location"]) == (302, change_page(never_built_letter))
    assert PAST_LETTER_MISSING in messages_of(response)
    assert as_stored(never_built_letter) == before
    assert not DecisionLetter.objects.get(pk=never_built_letter.pk).file
    assert rebuilt_rows(never_built_letter.application) == []


def test_a_mail_still_in_the_outbox_leaves_without_last_years_never_built_letter(never_built_letter):
    with pytest.raises(AttachmentUnavailable) as unavailable:
        attachment_content(str(never_built_letter.pk))

    assert str(unavailable.value) == "its campaign is no longer active: not built again"

    assert not DecisionLetter.objects.get(pk=never_built_letter.pk).file
    assert rebuilt_rows(never_built_letter.application) == []


def test_this_years_missing_letter_is_still_built_again(
    client, centre_manager, formation, admission_text, last_years_letter, django_capture_on_commit_callbacks
):
    """The active campaign's letter whose file is gone is still built again, the history saying so."""
    this_year = Campaign.objects.get(is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, this_year, centre_manager)
    letter = DecisionLetter.objects.get(application=application)
    default_storage.delete(letter.file.name)
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_letter", args=[application.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert default_storage.exists(DecisionLetter.objects.get(pk=letter.pk).file.name)
    assert len(rebuilt_rows(application)) == 1
    assert rebuilt_rows(last_years_letter.application) == []


def test_this_years_never_built_letter_is_still_built(
    client, centre_manager, formation, admission_text, last_years_letter, django_capture_on_commit_callbacks
):
    this_year = Campaign.objects.get(is_active=True)
    with django_capture_on_commit_callbacks(execute=False):
        application = released(formation, this_year, centre_manager)
    letter = DecisionLetter.objects.get(application=application)
    assert not letter.file
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_letter", args=[application.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert DecisionLetter.objects.get(pk=letter.pk).file


def test_last_years_never_built_letter_is_not_obtainable(never_built_letter):
    """No mail promises, no page offers, last year's letter never built (``open_letter`` will not build it)."""
    application = Application.objects.select_related("campaign").get(pk=never_built_letter.application_id)

    assert letter_obtainable(never_built_letter, application) is False
