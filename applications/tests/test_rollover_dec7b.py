"""The yearly rollover leaves last year's applications as they were (found by review, docs/campaign-rollover.md: « no
longer changed »): a past campaign's decision letter is served as stored, never rebuilt from the new year's text or
offer; « Rechargement des OPI » leaves a past campaign's OPIs alone and says so; a release run after the archiving
refuses a past campaign's application as such, not as a right lost."""

import datetime
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from applications.enums import EventKind, OpiState
from applications.letters import attachment_content
from applications.models import Application, DecisionLetter, Opi, ReleaseJob
from applications.services import staff
from applications.services.release import request_release, run_release
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import released
from applications.tests.opi.helpers import admit, confirm, make_candidate
from offers.enums import Avis
from offers.models import Campaign, DecisionLetterTemplate
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

LETTER_TEXT = "Vous êtes admis(e) en ${formation_title}."
REBUILT_FR = "Lettre d'admission : refaite, ses valeurs avaient changé"


@pytest.fixture
def last_year(db):
    return CampaignFactory(code="R2026", label="Campagne R2026", is_active=True)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre, commission=commission, code="M1ENER", title="Master Énergie", pegase_code="M1-ENER-PSOL"
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


# --- 1. last year's decision letter --------------------------------------------------------------------------------


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title="Lettre d'admission",
        body=LETTER_TEXT,
        signatory="Jeanne DURAND, directrice",
    )


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


def stored(letter: DecisionLetter) -> bytes:
    with default_storage.open(letter.file.name, "rb") as handle:
        return handle.read()


def rebuilt_rows(application: Application) -> list:
    return list(application.events.filter(kind=EventKind.LETTER_REGENERATED))


def new_years_text(admission_text, formation) -> None:
    """After the rollover the office sets the new year up: a new signatory, the formation's title reused."""
    admission_text.signatory = "Paul MARTIN, directeur"
    admission_text.body = LETTER_TEXT + "\nNouvelle année."
    admission_text.save()
    formation.title = "Master Énergies renouvelables"
    formation.save()


def test_staff_download_last_years_letter_as_the_candidate_received_it(
    client,
    back_office_in_french,
    centre_manager,
    formation,
    admission_text,
    last_years_letter,
    django_assert_num_queries,
):
    """A dispute: the manager downloads the letter the candidate received, under its date, not last year's values
    printed with this year's text; the file stays, and the read-only application gets no history row."""
    sent = stored(last_years_letter)
    new_years_text(admission_text, formation)
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_letter", args=[last_years_letter.application_id])

    # Session, user, savepoint, the manager's scope, the application and its scope check, the latest validated
    # decision with its letter, the letter's row with what its file name reads, release: neither its texts (nothing
    # is compared) nor a build (17 before: its texts, a savepoint, the row locked, the text, the centre, the row
    # updated, the history row).
    with django_assert_num_queries(9):
        response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == sent
    after = DecisionLetter.objects.get(pk=last_years_letter.pk)
    assert (after.file.name, after.generated_at, after.values_digest) == (
        last_years_letter.file.name,
        last_years_letter.generated_at,
        last_years_letter.values_digest,
    )
    assert stored(after) == sent  # the PDF sent is still there
    assert rebuilt_rows(last_years_letter.application) == []
    assert REBUILT_FR not in [event.comment for event in last_years_letter.application.events.all()]


def test_a_mail_delivered_after_the_rollover_carries_the_letter_as_built(formation, admission_text, last_years_letter):
    """A decision mail still in the outbox at the archiving (a mail server down) carries the letter as built."""
    sent = stored(last_years_letter)
    new_years_text(admission_text, formation)

    assert attachment_content(str(last_years_letter.pk)) == sent
    assert rebuilt_rows(last_years_letter.application) == []


def test_this_years_letter_still_follows_its_values(
    client,
    centre_manager,
    formation,
    admission_text,
    last_years_letter,
    django_capture_on_commit_callbacks,
):
    """The active campaign's letters are still built again once what they print changed."""
    this_year = Campaign.objects.get(is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        application = released(formation, this_year, centre_manager)
    letter = DecisionLetter.objects.get(application=application)
    new_years_text(admission_text, formation)
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_letter", args=[application.pk]))

    assert response.status_code == 200
    assert DecisionLetter.objects.get(pk=letter.pk).values_digest != letter.values_digest
    assert len(rebuilt_rows(application)) == 1
    assert rebuilt_rows(last_years_letter.application) == []


# --- 2. « Rechargement des OPI » -----------------------------------------------------------------------------------


def transferred(application: Application) -> Opi:
    Opi.objects.filter(application=application).update(
        state=OpiState.PASSED, passed_at=timezone.now() - datetime.timedelta(days=30)
    )
    return Opi.objects.get(application=application)


@pytest.mark.parametrize("past", [1, 3])
def test_requeue_leaves_a_past_campaigns_opis_and_says_so(
    client,
    back_office_in_french,
    pegase_opi,
    opi_type,
    formation,
    last_year,
    centre_manager,
    central_manager,
    django_assert_num_queries,
    past,
):
    last_years = [
        transferred(
            confirm(
                admit(
                    make_candidate(last_year, username=f"AB{n:06d}", ine=""),
                    formation,
                    manager=centre_manager,
                    decision_type=opi_type,
                )
            )
        )
        for n in range(past)
    ]
    this_year = archive(last_year)
    current = transferred(
        confirm(
            admit(
                make_candidate(this_year, username="CD000001", ine=""),
                formation,
                manager=centre_manager,
                decision_type=opi_type,
            )
        )
    )
    client.force_login(central_manager)
    ids = [str(opi.pk) for opi in [*last_years, current]]

    # As a re-queue of this year's OPIs alone (applications/tests/opi/test_admin.py: 16), whatever the number left.
    with django_assert_num_queries(16):
        response = client.post(
            reverse("admin:applications_opi_changelist"), {"action": "requeue", "_selected_action": ids}
        )

    assert response.status_code == 302
    assert Opi.objects.get(pk=current.pk).state == OpiState.PENDING
    for opi in last_years:
        after = Opi.objects.get(pk=opi.pk)
        assert (after.state, after.queued_at) == (OpiState.PASSED, opi.queued_at)
        assert not after.application.events.filter(kind=EventKind.OPI_REQUEUED).exists()
    left = (
        "1 OPI d'une campagne passée non remise en attente : elle n'est plus transférée."
        if past == 1
        else f"{past} OPI d'une campagne passée non remises en attente : elles ne sont plus transférées."
    )
    assert [str(message) for message in get_messages(response.wsgi_request)] == ["1 OPI remise en attente.", left]


def test_requeue_of_a_past_campaigns_opi_alone_changes_nothing(
    client, back_office_in_french, pegase_opi, opi_type, formation, last_year, centre_manager, central_manager
):
    application = confirm(
        admit(make_candidate(last_year, ine=""), formation, manager=centre_manager, decision_type=opi_type)
    )
    opi = transferred(application)
    archive(last_year)
    client.force_login(central_manager)

    response = client.post(
        reverse("admin:applications_opi_changelist"), {"action": "requeue", "_selected_action": [str(opi.pk)]}
    )

    assert Opi.objects.get(pk=opi.pk).state == OpiState.PASSED
    assert [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)] == [
        ("warning", "1 OPI d'une campagne passée non remise en attente : elle n'est plus transférée.")
    ]


# --- 3. a release run after the archiving ---------------------------------------------------------------------------

PAST_CAMPAIGN = "Application of a past campaign (Campagne R2026): it is read, exported and printed, no longer changed."


def test_a_release_run_after_the_archiving_refuses_as_a_past_campaign(
    formation, last_year, centre_manager, commission_member, django_capture_on_commit_callbacks
):
    application = make_application(formation, campaign=last_year)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    job = request_release(actor=centre_manager, application_ids=[application.pk])
    archive(last_year)  # the job waited in the queue over the archiving night

    with django_capture_on_commit_callbacks(execute=True):
        run_release(job.pk)

    job.refresh_from_db()
    number = application.candidate.user.username
    assert (job.status, job.done, job.refusals) == (
        ReleaseJob.Status.DONE,
        0,
        [f"{number} – {formation.code}: {PAST_CAMPAIGN}"],
    )
    assert application.decisions.get().validated_at is None
