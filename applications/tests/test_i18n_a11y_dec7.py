"""The English back office and its French, on the pages of background work and of the letters' previews (review of
7 December):

- a progress line read "1 of 3 dossier built", "1 of 3 decision validated and sent": its noun followed the number
  done, right in French (« 1 dossier constitué sur 3 »), wrong in English; English now says the plural whatever the
  number done, French still agrees with it;
- the French release page headed the applications it refused « Refusée » (the piece status, one feminine word),
  now « Candidatures refusées »;
- « Prévisualiser (PDF) » of a decision letter said that it opens a new tab and saves or sends nothing only in a
  ``title`` (a mouse's tooltip), and « Voir la lettre (PDF) » before a release did not say it at all: both say it in
  visible words, as the mails' previews do;
- the piece pack's form sent back with an error did not say so in the page's title, as its siblings do."""

import datetime
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from applications.enums import DossierStatus
from applications.models import CommissionPack, ReleaseJob
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from offers.enums import Avis
from offers.models import DecisionLetterTemplate
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = reverse("admin:applications_application_changelist")
LETTER_HELP = "Opens the saved letter drawn with sample values in a new tab; nothing is saved or sent."
RELEASE_LETTER_HELP = "Opens the letter this decision will produce in a new tab; nothing is saved or sent."


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def admission_text(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title="Lettre d'admission — ${formation_code}",
        body="Madame, Monsieur ${last_name}, vous êtes admis(e) en ${formation_title}.",
        signatory="Le directeur de l'UFR",
    )


def _progress(page: str) -> str:
    """The words after the progress bar, on one line."""
    match = re.search(r"</progress>(.*?)</p>", page, re.S)
    assert match is not None
    return " ".join(match.group(1).split())


@pytest.mark.parametrize(
    ("language", "done", "expected"),
    [
        ("en", 1, "1 of 3 dossiers built"),
        ("en", 2, "2 of 3 dossiers built"),
        ("fr", 1, "1 dossier constitué sur 3"),
        ("fr", 2, "2 dossiers constitués sur 3"),
    ],
)
def test_the_packs_progress_says_dossiers_in_english_and_agrees_in_french(
    client, commission_member, language, done, expected
):
    pack = CommissionPack.objects.create(
        requested_by=commission_member,
        status=CommissionPack.Status.FAILED,
        total=3,
        done=done,
        error="stopped",
        finished_at=timezone.now(),
    )
    client.force_login(commission_member)

    page = client.get(reverse("admin:applications_application_pack", args=[pack.public_id]), language=language)

    assert page.status_code == 200
    assert _progress(page.content.decode()) == expected


def _finished_release(user, done: int) -> ReleaseJob:
    now = timezone.now()
    refusals = [f"DOSSIER{n} – M1ENER: this decision was not validated." for n in range(3 - done)]
    return ReleaseJob.objects.create(
        requested_by=user,
        status=ReleaseJob.Status.DONE,
        total=3,
        done=done,
        refusals=refusals,
        progress_at=now - datetime.timedelta(seconds=1),
        finished_at=now,
    )


@pytest.mark.parametrize(
    ("language", "done", "expected"),
    [
        ("en", 1, "1 of 3 decisions validated and sent"),
        ("en", 2, "2 of 3 decisions validated and sent"),
        ("fr", 1, "1 avis validé et envoyé sur 3"),
        ("fr", 2, "2 avis validés et envoyés sur 3"),
    ],
)
def test_the_releases_progress_says_decisions_in_english_and_agrees_in_french(
    client, centre_manager, language, done, expected
):
    job = _finished_release(centre_manager, done)
    client.force_login(centre_manager)

    page = client.get(reverse("admin:applications_application_release", args=[job.public_id]), language=language)

    assert page.status_code == 200
    assert _progress(page.content.decode()) == expected


@pytest.mark.parametrize(("language", "heading"), [("fr", "Candidatures refusées"), ("en", "Refused")])
def test_the_release_heads_its_refused_applications_as_applications(client, centre_manager, language, heading):
    job = _finished_release(centre_manager, 1)
    client.force_login(centre_manager)

    page = client.get(reverse("admin:applications_application_release", args=[job.public_id]), language=language)

    assert f"<h3>{heading}</h3>\n      <ul><li>DOSSIER0 – M1ENER:" in page.content.decode()


def test_the_letters_preview_says_in_visible_words_what_it_opens(client, central_manager, admission_text):
    client.force_login(central_manager)
    preview = reverse("admin:offers_decisionlettertemplate_preview", args=[admission_text.pk])

    page = client.get(
        reverse("admin:offers_decisionlettertemplate_change", args=[admission_text.pk]), language="en"
    ).content.decode()

    link = re.search(rf'<a [^>]*href="{re.escape(preview)}"[^>]*>Preview \(PDF\)</a>', page)
    assert link is not None
    assert "title=" not in link.group(0)
    assert 'target="_blank"' in link.group(0)
    assert f'{link.group(0)}\n      <span class="help">{LETTER_HELP}</span>' in page


def test_the_letter_before_a_release_says_it_opens_a_new_tab(
    client, formation, campaign, commission_member, centre_manager, admission_text
):
    application = make_application(formation, campaign=campaign)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    letter = reverse("admin:applications_application_letter_preview", args=[application.pk])
    client.force_login(centre_manager)

    page = client.get(
        reverse("admin:applications_application_operation", args=[application.pk, "validate_decisions"]),
        language="en",
    ).content.decode()

    assert (
        f'<a href="{letter}" target="_blank" rel="noopener">See the letter (PDF)</a> '
        f'<span class="help">{RELEASE_LETTER_HELP}</span>'
    ) in page


def _title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page, re.S)
    assert match is not None
    return " ".join(match.group(1).split())


def test_the_piece_packs_form_sent_back_with_an_error_says_so_in_its_title(
    client, commission_member, formation, campaign
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    client.force_login(commission_member)
    data = {"action": "piece_pack_action", ACTION_CHECKBOX_NAME: [application.pk], "index": 0}

    first = client.post(APPLICATIONS, data, language="en").content.decode()
    refused = client.post(APPLICATIONS, {**data, "apply": "1", "piece_type": ""}, language="en").content.decode()

    assert _title(first).startswith("One piece of each dossier (ZIP)")
    assert _title(refused).startswith("Error: One piece of each dossier (ZIP)")
    assert not CommissionPack.objects.exists()
