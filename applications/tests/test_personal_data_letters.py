""" "Mes données": the decision letters the candidate may obtain from their recap are in the ZIP (``lettres/``) and
listed in donnees.json; a letter withheld from the recap (after a désistement, until the confirmation with
ADMISSION_LETTER_AFTER_CONFIRMATION, of a decision not released or superseded) is not."""

import io
import json
import uuid
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from applications.models import DecisionLetter
from applications.tests.factories_candidature import ApplicationFactory, DecisionFactory, PieceSubmissionFactory
from offers.enums import Avis, LetterKind
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

URL = "applications:my_data_download"
LETTER_BYTES = b"%PDF-1.4 lettre de decision"


def _archive(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _apply(candidate, *, code: str = "", accepted: bool | None = None):
    answered = {"accepted": accepted, "answered_at": timezone.now()} if accepted is not None else {}
    formation = FormationFactory(code=code) if code else FormationFactory()
    return ApplicationFactory(candidate=candidate, formation=formation, **answered)


def _letter(application, kind=LetterKind.ADMISSION, *, validated: bool = True, content: bytes = LETTER_BYTES):
    """A decision of the letter's avis, and its letter built (stored as the build stores it)."""
    avis = Avis.FAVOURABLE if kind == LetterKind.ADMISSION else Avis.UNFAVOURABLE
    decision = DecisionFactory(application=application, validated=validated, decision_type__avis=avis)
    name = default_storage.save(f"letters/test/{uuid.uuid4()}.pdf", ContentFile(content, name="letter.pdf"))
    return DecisionLetter.objects.create(
        decision=decision,
        application=application,
        kind=kind,
        file=name,
        size=len(content),
        generated_at=timezone.now(),
    )


def _letters(archive: zipfile.ZipFile) -> list[str]:
    return [name for name in archive.namelist() if name.startswith("lettres/")]


def test_a_released_letter_is_in_the_archive_and_listed(owner_client, candidate):
    admitted = _apply(candidate, code="MINFO", accepted=True)
    admission = _letter(admitted)
    refused = _apply(candidate, code="LDROIT")
    _letter(refused, LetterKind.REFUSAL, content=b"%PDF-1.4 refus")

    archive = _archive(owner_client.get(reverse(URL)))

    assert _letters(archive) == ["lettres/01-MINFO-LETTRE_ADM.pdf", "lettres/02-LDROIT-LETTRE_REFUS.pdf"]
    assert archive.read("lettres/01-MINFO-LETTRE_ADM.pdf") == LETTER_BYTES
    assert archive.read("lettres/02-LDROIT-LETTRE_REFUS.pdf") == b"%PDF-1.4 refus"
    first, second = json.loads(archive.read("donnees.json"))["letters"]
    assert first == {
        "formation": "MINFO",
        "kind": LetterKind.ADMISSION,
        "decision_validated_at": admission.decision.validated_at.isoformat(),
        "generated_at": admission.generated_at.isoformat(),
        "size": len(LETTER_BYTES),
        "in_archive": "lettres/01-MINFO-LETTRE_ADM.pdf",
    }
    assert (second["formation"], second["kind"]) == ("LDROIT", LetterKind.REFUSAL)


def test_an_admission_letter_given_up_by_a_withdrawal_is_not_in_the_archive(owner_client, candidate):
    withdrawn = _apply(candidate, accepted=False)
    _letter(withdrawn)

    archive = _archive(owner_client.get(reverse(URL)))

    assert _letters(archive) == []
    assert json.loads(archive.read("donnees.json"))["letters"] == []


def test_an_admission_letter_waits_for_the_confirmation_when_the_setting_says_so(owner_client, candidate, settings):
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = True
    waiting = _apply(candidate, code="MINFO")
    _letter(waiting)
    refused = _apply(candidate, code="LDROIT")
    _letter(refused, LetterKind.REFUSAL)  # a refusal letter is never withheld

    archive = _archive(owner_client.get(reverse(URL)))

    assert _letters(archive) == ["lettres/01-LDROIT-LETTRE_REFUS.pdf"]

    waiting.accepted, waiting.answered_at = True, timezone.now()
    waiting.save(update_fields=["accepted", "answered_at"])
    archive = _archive(owner_client.get(reverse(URL)))

    assert _letters(archive) == ["lettres/01-MINFO-LETTRE_ADM.pdf", "lettres/02-LDROIT-LETTRE_REFUS.pdf"]


def test_the_letter_of_a_decision_not_released_or_superseded_is_not_in_the_archive(owner_client, candidate):
    draft = _apply(candidate, code="MINFO")
    _letter(draft, validated=False)
    superseded = _apply(candidate, code="LDROIT")
    _letter(superseded, LetterKind.REFUSAL)  # then a favourable decision on appeal, released without a letter text
    DecisionFactory(application=superseded, validated=True, decision_type__avis=Avis.FAVOURABLE)

    archive = _archive(owner_client.get(reverse(URL)))

    assert _letters(archive) == []
    assert json.loads(archive.read("donnees.json"))["letters"] == []


def test_a_letter_not_built_yet_is_left_out(owner_client, candidate):
    letter = _letter(_apply(candidate, accepted=True))
    DecisionLetter.objects.filter(pk=letter.pk).update(file="", size=0)

    archive = _archive(owner_client.get(reverse(URL)))

    assert _letters(archive) == []
    assert json.loads(archive.read("donnees.json"))["letters"] == []


def test_a_letter_missing_from_storage_is_listed_without_failing(owner_client, candidate):
    letter = _letter(_apply(candidate, code="MINFO", accepted=True))
    _letter(_apply(candidate, code="LDROIT"), LetterKind.REFUSAL)
    default_storage.delete(letter.file.name)

    archive = _archive(owner_client.get(reverse(URL)))

    # As a piece whose file is gone: listed in donnees.json, the file itself not in the archive.
    assert _letters(archive) == ["lettres/02-LDROIT-LETTRE_REFUS.pdf"]
    assert archive.read("lettres/02-LDROIT-LETTRE_REFUS.pdf") == LETTER_BYTES
    listed = json.loads(archive.read("donnees.json"))["letters"]
    assert [(entry["formation"], entry["in_archive"]) for entry in listed] == [
        ("MINFO", "lettres/01-MINFO-LETTRE_ADM.pdf"),
        ("LDROIT", "lettres/02-LDROIT-LETTRE_REFUS.pdf"),
    ]
    assert listed[0]["size"] == len(LETTER_BYTES)


@pytest.mark.parametrize("applications", [1, 3])
def test_queries_do_not_grow_with_letters(owner_client, candidate, django_assert_num_queries, applications):
    for index in range(applications):
        application = _apply(candidate, accepted=True)
        PieceSubmissionFactory(application=application)
        _letter(application, LetterKind.ADMISSION if index % 2 == 0 else LetterKind.REFUSAL)

    # As test_personal_data's count (20) plus one query for the letters, whatever their number.
    with django_assert_num_queries(21):
        response = owner_client.get(reverse(URL))

    assert len(_letters(_archive(response))) == applications


def test_the_page_says_the_letters_are_in_the_archive(owner_client):
    response = owner_client.get(reverse("applications:my_data"))

    assert "your decision letters" in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "accepted", "after_confirmation", "validated", "superseded"),
    [
        (LetterKind.ADMISSION, None, False, True, False),
        (LetterKind.ADMISSION, None, True, True, False),
        (LetterKind.ADMISSION, True, True, True, False),
        (LetterKind.ADMISSION, False, False, True, False),
        (LetterKind.REFUSAL, None, True, True, False),
        (LetterKind.REFUSAL, None, False, False, False),
        (LetterKind.REFUSAL, None, False, True, True),
    ],
)
def test_the_archive_holds_the_letter_the_recap_gives(
    owner_client, candidate, settings, kind, accepted, after_confirmation, validated, superseded
):
    settings.ADMISSION_LETTER_AFTER_CONFIRMATION = after_confirmation
    application = _apply(candidate, accepted=accepted)
    _letter(application, kind, validated=validated)
    if superseded:
        DecisionFactory(application=application, validated=True, decision_type__avis=Avis.FAVOURABLE)

    downloaded = owner_client.get(reverse("applications:letter", args=[application.public_id]))
    archive = _archive(owner_client.get(reverse(URL)))

    assert downloaded.status_code in (200, 404)
    assert bool(_letters(archive)) == (downloaded.status_code == 200)
