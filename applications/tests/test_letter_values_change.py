"""A stored decision letter follows its values (found by review): built once at the release, it kept the formation's
date de confirmation of that moment while the recap, the mails and the nightly withdrawal used the date staff set
for everyone since (« Modifier les dates »): a candidate trusting « Confirmez avant le … » could be withdrawn
automatically. eCandidat makes the letter at each download. The letter now records the digest of what it printed;
every path that hands it out (the candidate's and the staff's downloads, the mail's attachment at delivery, « Mes
données ») builds it again once its values have changed, and the history says so."""

import datetime
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from applications.enums import EventKind
from applications.letters import CANDIDATE_DOWNLOAD, MAIL_DELIVERY, STAFF_DOWNLOAD, build_letter
from applications.models import Application, DecisionLetter
from applications.tests.factories_candidature import ApplicationFactory, decide
from applications.tests.helpers import released
from ecandidat.emails import send_pending_mails
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import DecisionLetterTemplate
from offers.services import set_formation_dates
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ADMISSION_TEXT = (
    "Madame, Monsieur ${last_name},\n\nVous êtes admis(e) en ${formation_title}.\n"
    "Confirmez avant le ${confirmation_date}."
)
REBUILT_FR = "Lettre d'admission : refaite, ses valeurs avaient changé"


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION, centre=centre, title="Lettre d'admission", body=ADMISSION_TEXT
    )


@pytest.fixture
def with_letter(formation, campaign, centre_manager, admission_text, django_capture_on_commit_callbacks):
    """An admission released, its letter built by the worker (and its mail sent)."""
    with django_capture_on_commit_callbacks(execute=True):
        return released(formation, campaign, centre_manager)


def text_of(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def stored_text(letter: DecisionLetter) -> str:
    with default_storage.open(letter.file.name, "rb") as handle:
        return text_of(handle.read())


def said(day: datetime.date) -> str:
    return f"Confirmez avant le {day:%d/%m/%Y}"


def letter_url(application: Application) -> str:
    return reverse("applications:letter", args=[application.public_id])


def download(client, application: Application) -> str:
    client.force_login(application.candidate.user)
    response = client.get(letter_url(application))
    assert response.status_code == 200
    return text_of(b"".join(response.streaming_content))


def new_date_for_everyone(formation) -> datetime.date:
    """« Modifier les dates »: the formation's date de confirmation a week later, for all its candidates."""
    new_date = formation.confirmation_date + datetime.timedelta(days=7)
    set_formation_dates([formation.pk], {"confirmation_date": new_date})
    return new_date


def rebuilt_rows(application: Application):
    return list(application.events.filter(kind=EventKind.LETTER_REGENERATED).order_by("id"))


# --- the candidate's download ----------------------------------------------------------------------------------------


def test_a_new_date_for_everyone_is_in_the_letter_the_candidate_downloads(client, formation, with_letter):
    before = DecisionLetter.objects.get(application=with_letter)
    assert said(formation.confirmation_date) in stored_text(before)

    new_date = new_date_for_everyone(formation)
    text = download(client, with_letter)

    assert said(new_date) in text
    assert said(formation.confirmation_date) not in text
    after = DecisionLetter.objects.get(application=with_letter)
    assert after.file.name != before.file.name
    assert after.values_digest not in {"", before.values_digest}
    assert after.generated_by is None  # no one's action
    [event] = rebuilt_rows(with_letter)
    assert (event.actor, event.batch, event.comment) == (None, CANDIDATE_DOWNLOAD, REBUILT_FR)

    assert said(new_date) in download(client, with_letter)  # built once: the next download reads it as it is
    assert DecisionLetter.objects.get(application=with_letter).file.name == after.file.name
    assert len(rebuilt_rows(with_letter)) == 1


def test_unchanged_values_do_not_rebuild_the_letter(client, formation, with_letter):
    before = DecisionLetter.objects.get(application=with_letter)
    assert len(before.values_digest) == 64

    assert said(formation.confirmation_date) in download(client, with_letter)
    set_formation_dates([formation.pk], {"confirmation_date": formation.confirmation_date})  # saved, the same date
    assert said(formation.confirmation_date) in download(client, with_letter)

    after = DecisionLetter.objects.get(application=with_letter)
    assert (after.file.name, after.generated_at, after.values_digest) == (
        before.file.name,
        before.generated_at,
        before.values_digest,
    )
    assert rebuilt_rows(with_letter) == []

    new_date_for_everyone(formation)  # then a change is seen
    download(client, with_letter)
    assert len(rebuilt_rows(with_letter)) == 1


def test_a_letter_built_before_its_digest_is_not_rebuilt_for_that_alone(
    client, formation, centre_manager, with_letter
):
    """A letter built before this version has no digest: it is not rebuilt (every old letter would be), until a
    build records one (here staff's « Régénérer »), after which a change is seen."""
    DecisionLetter.objects.filter(application=with_letter).update(values_digest="")
    before = DecisionLetter.objects.get(application=with_letter)
    old_date = formation.confirmation_date

    new_date = new_date_for_everyone(formation)
    text = download(client, with_letter)

    assert said(old_date) in text
    assert DecisionLetter.objects.get(application=with_letter).file.name == before.file.name
    assert rebuilt_rows(with_letter) == []

    build_letter(before.pk, force=True, actor=centre_manager)  # the staff's regeneration records a digest
    assert DecisionLetter.objects.get(application=with_letter).values_digest
    formation.refresh_from_db()
    set_formation_dates([formation.pk], {"confirmation_date": new_date + datetime.timedelta(days=1)})

    assert said(new_date + datetime.timedelta(days=1)) in download(client, with_letter)
    assert len(rebuilt_rows(with_letter)) == 1


def test_a_corrected_name_and_title_are_in_the_letter(client, formation, with_letter):
    """Any value the letter prints, not only the date: the candidate's name corrected by staff, the formation's
    title."""
    candidate = with_letter.candidate
    candidate.usual_name = "NOUVEAU-NOM"
    candidate.save()
    formation.title = "Master Informatique et Réseaux"
    formation.save()

    text = download(client, with_letter)

    assert "Madame, Monsieur NOUVEAU-NOM," in text
    assert "Master Informatique et Réseaux" in text
    assert len(rebuilt_rows(with_letter)) == 1


def test_a_changed_letter_text_is_in_the_letter(client, admission_text, with_letter):
    admission_text.body = "Texte corrigé. Confirmez avant le ${confirmation_date}."
    admission_text.save()

    assert "Texte corrigé." in download(client, with_letter)
    assert len(rebuilt_rows(with_letter)) == 1


# --- the staff's download -----------------------------------------------------------------------------------------


def test_the_staff_download_shows_the_new_date_too(client, formation, centre_manager, with_letter):
    new_date = new_date_for_everyone(formation)
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_letter", args=[with_letter.pk]))

    assert said(new_date) in text_of(b"".join(response.streaming_content))
    [event] = rebuilt_rows(with_letter)
    assert (event.actor, event.batch) == (None, STAFF_DOWNLOAD)


# --- the mail's attachment, at delivery ---------------------------------------------------------------------------


def test_the_mail_attachment_at_delivery_carries_the_new_date(
    formation, campaign, centre_manager, admission_text, mailoutbox
):
    """The mail waits in the outbox (a mail server down, a slow sweeper) while the worker built the letter, then the
    date changes: the letter the mail carries gives the new one."""
    formation.commission.attach_letter_to_mail = True
    formation.commission.save()
    application = released(formation, campaign, centre_manager)  # the build's and the mail's callbacks not run
    letter = build_letter(DecisionLetter.objects.get(application=application).pk)  # the worker
    assert said(formation.confirmation_date) in stored_text(letter)
    new_date = new_date_for_everyone(formation)

    OutboundEmail.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    assert send_pending_mails()["sent"] >= 1

    [message] = [message for message in mailoutbox if message.to == [application.candidate.user.email]]
    [content] = [
        part.get_payload(decode=True)
        for part in message.message().walk()
        if part.get_content_type() == "application/pdf"
    ]
    assert said(new_date) in text_of(content)
    assert OutboundEmail.objects.get(to=application.candidate.user.email).status == OutboundEmail.Status.SENT
    [event] = rebuilt_rows(application)
    assert (event.actor, event.batch) == (None, MAIL_DELIVERY)


# --- « Mes données » ---------------------------------------------------------------------------------------------


def test_the_personal_data_archive_holds_the_letter_with_the_new_date(client, formation, with_letter):
    new_date = new_date_for_everyone(formation)
    client.force_login(with_letter.candidate.user)

    response = client.get(reverse("applications:my_data_download"))

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    [name] = [name for name in archive.namelist() if name.startswith("lettres/")]
    assert said(new_date) in text_of(archive.read(name))
    [event] = rebuilt_rows(with_letter)
    assert (event.actor, event.batch) == (None, CANDIDATE_DOWNLOAD)


# --- the cost -----------------------------------------------------------------------------------------------------


def test_the_download_queries_do_not_depend_on_the_values(client, formation, with_letter, django_assert_num_queries):
    client.force_login(with_letter.candidate.user)

    # Session, user, savepoint, application, letter; the letter's row with what its values and its file name read,
    # its text; release.
    with django_assert_num_queries(8):
        assert client.get(letter_url(with_letter)).status_code == 200

    new_date_for_everyone(formation)
    # The same, and the build (savepoint, row locked, text, centre, write, release) and its history row.
    with django_assert_num_queries(15):
        response = client.get(letter_url(with_letter))
    assert response.status_code == 200

    with django_assert_num_queries(8):  # built again: as before the change
        assert client.get(letter_url(with_letter)).status_code == 200

    DecisionLetter.objects.filter(application=with_letter).update(values_digest="")
    # A letter built before its digest was recorded: nothing compared, as before (its file name's application,
    # candidate, user and formation read one by one).
    with django_assert_num_queries(10):
        assert client.get(letter_url(with_letter)).status_code == 200


@pytest.mark.parametrize("applications", [1, 3])
def test_the_personal_data_queries_do_not_grow_with_letters(
    client,
    campaign,
    centre,
    commission,
    centre_manager,
    admission_text,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
    applications,
):
    with django_capture_on_commit_callbacks(execute=True):
        first = released(FormationFactory(centre=centre, commission=commission), campaign, centre_manager)
        for _index in range(applications - 1):
            other = ApplicationFactory(
                candidate=first.candidate, formation=FormationFactory(centre=centre, commission=commission)
            )
            decide(other, Avis.FAVOURABLE, actor=centre_manager)
    assert DecisionLetter.objects.exclude(values_digest="").count() == applications
    client.force_login(first.candidate.user)

    # As test_personal_data_letters' count (21), plus the letters' values and their texts, whatever their number.
    with django_assert_num_queries(23):
        response = client.get(reverse("applications:my_data_download"))

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len([name for name in archive.namelist() if name.startswith("lettres/")]) == applications
