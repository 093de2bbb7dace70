""" "Mes données": the ZIP of everything we hold about the candidate (account, dossier, applications, files, mails)."""

import datetime
import io
import json
import zipfile
from decimal import Decimal

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from accounts.services import change_email
from accounts.tests.factories import StaffFactory, UserFactory
from applications.enums import EventKind, PieceStatus
from applications.history import record_event
from applications.models import Application
from applications.services.dossier import staff_change_account_email
from applications.tests.factories_candidature import (
    PDF_BYTES,
    ApplicationFactory,
    DecisionFactory,
    DocumentFactory,
    PieceSubmissionFactory,
)
from documents import scanning
from documents.enums import ScanStatus
from ecandidat.emails import enqueue_email
from ecandidat.models import OutboundEmail
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

URL = "applications:my_data_download"


def _archive(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _apply(candidate, *, pieces: int = 1):
    application = ApplicationFactory(candidate=candidate, formation=FormationFactory())
    for _ in range(pieces):
        PieceSubmissionFactory(application=application)
    return application


def test_archive_holds_the_data_and_the_files_byte_for_byte(owner_client, candidate):
    application = _apply(candidate)
    submission = application.pieces.get()
    DecisionFactory(application=application, validated=True, decision_type__candidate_label="Avis favorable")
    DecisionFactory(application=application, decision_type__candidate_label="Brouillon de commission")
    enqueue_email(
        to=candidate.user.email,
        code="GENERIC",
        template_base="accounts/email/generic",
        context={"subject": "Votre dossier", "body": "Bonjour"},
    )

    archive = _archive(owner_client.get(reverse(URL)))

    data = json.loads(archive.read("donnees.json"))
    [exported] = data["applications"]
    assert exported["formation"]["code"] == application.formation.code
    # Only validated decisions, as on the candidate's pages.
    assert [decision["decision"] for decision in exported["decisions"]] == ["Avis favorable"]
    [piece] = data["pieces"]
    assert piece["status"] == PieceStatus.SUBMITTED
    assert piece["file"]["sha256"] == submission.document.sha256
    assert archive.read(piece["file"]["in_archive"]) == PDF_BYTES
    assert [mail["subject"] for mail in data["mails"]] == ["Votre dossier"]


def test_archive_leaves_out_other_candidates_and_quarantined_files(owner_client, candidate, other_candidate):
    _apply(other_candidate, pieces=2)
    application = _apply(candidate)
    infected = DocumentFactory(scan_status=ScanStatus.INFECTED, uploaded_by=candidate.user)
    PieceSubmissionFactory(application=application, document=infected)

    archive = _archive(owner_client.get(reverse(URL)))

    data = json.loads(archive.read("donnees.json"))
    assert len(data["pieces"]) == 2
    assert [piece["file"]["in_archive"] is None for piece in data["pieces"]].count(True) == 1
    assert len([name for name in archive.namelist() if name.startswith("pieces/")]) == 1
    assert other_candidate.user.email not in archive.read("donnees.json").decode()


def test_a_file_missing_from_storage_is_listed_without_failing(owner_client, candidate):
    application = _apply(candidate)
    default_storage.delete(application.pieces.get().document.file.name)

    archive = _archive(owner_client.get(reverse(URL)))

    assert [name for name in archive.namelist() if name.startswith("pieces/")] == []
    assert json.loads(archive.read("donnees.json"))["pieces"][0]["file"]["sha256"]


def test_headers_forbid_caching(owner_client, candidate):
    response = owner_client.get(reverse(URL))

    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'attachment; filename="mes-donnees-{candidate.user.username}.zip"'


@pytest.mark.parametrize("applications", [1, 5])
def test_queries_do_not_grow_with_applications_and_pieces(
    owner_client, candidate, django_assert_num_queries, applications
):
    for _ in range(applications):
        application = _apply(candidate, pieces=3)
        DecisionFactory(application=application, validated=True)

    # The former addresses, and those another account holds (their mails are not this one's): one query each; the
    # files no piece holds (quarantined), the ENT identities and the decision letters (there is a validated
    # decision): one query each.
    with django_assert_num_queries(21):
        response = owner_client.get(reverse(URL))

    assert len(json.loads(_archive(response).read("donnees.json"))["pieces"]) == 3 * applications


def test_staff_and_anonymous_get_nothing(client, django_user_model, candidate):
    staff = django_user_model.objects.create_user(username="staff", email="s@univ.example", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse(URL)).status_code == 404

    client.logout()
    assert client.get(reverse(URL)).status_code == 302


def test_the_regime_and_fees_entered_by_staff_are_in_the_archive(owner_client, candidate):
    """The exemption category may say the candidate is a refugee or a scholarship holder: theirs to read."""
    application = _apply(candidate, pieces=0)
    Application.objects.filter(pk=application.pk).update(
        regime_id="5", fee_exemption_id="ER", fee_exemption_comment="OFPRA", fee_amount=Decimal("0")
    )

    data = json.loads(_archive(owner_client.get(reverse(URL))).read("donnees.json"))

    [exported] = data["applications"]
    assert (exported["registration_regime"], exported["fee_exemption_category"]) == ("5", "ER")
    assert (exported["fee_exemption_complement"], exported["amount_payable"]) == ("OFPRA", "0.00")


def test_the_staff_internal_notes_leave_no_trace_in_the_archive(
    owner_client, candidate, centre_manager, django_assert_num_queries
):
    # The notes were never exported, but the history row of a deleted one was ("note de X du …"), as were the others.
    application = _apply(candidate)
    record_event(application, actor=centre_manager, kind=EventKind.NOTE_DELETED, comment="note de durand du 01/12")
    record_event(application, actor=centre_manager, kind=EventKind.STATUS, from_status="AT", to_status="RE")

    with django_assert_num_queries(20):  # as without the rows: the filter is in the history's prefetch
        response = owner_client.get(reverse(URL))

    archive = _archive(response)

    [exported] = json.loads(archive.read("donnees.json"))["applications"]
    assert [row["event"] for row in exported["history"]] == [EventKind.STATUS]
    assert "durand" not in archive.read("donnees.json").decode()


@pytest.mark.parametrize(
    ("original_name", "ends_with"),
    [
        ("Лист.pdf", "-x.pdf"),
        ("\u0645\u0647\u0631\u200c\u0646\u0627\u0632.pdf", "-x.pdf"),
        ("relevé.pdf", "-releve.pdf"),
    ],
)
def test_a_file_named_in_another_script_keeps_its_extension_in_the_archive(
    owner_client, candidate, original_name, ends_with
):
    """Regression (hostile uploads round 2, 2026-12-03): « Лист.pdf » was « …-pdf » in the ZIP, with no extension."""
    application = _apply(candidate, pieces=0)
    PieceSubmissionFactory(application=application, document=DocumentFactory(original_name=original_name))

    archive = _archive(owner_client.get(reverse(URL)))

    [name] = [name for name in archive.namelist() if name.startswith("pieces/")]
    assert name.endswith(ends_with)
    assert name.isascii()


def test_former_addresses_and_the_mails_sent_to_them_while_they_were_the_candidates(
    owner_client, candidate, central_manager, time_machine
):
    """An address the candidate gave up is theirs to see, with the mails sent to it until it was replaced; one that
    someone else took afterwards brings none of that person's mails."""
    first = candidate.user.email
    time_machine.move_to(timezone.now())
    enqueue_email(
        to=first,
        code="GENERIC",
        template_base="accounts/email/generic",
        context={"subject": "Avant", "body": "Bonjour"},
    )
    time_machine.shift(60)
    change_email(user=candidate.user, new_email="nouvelle@example.org", actor=central_manager)
    time_machine.shift(60)
    UserFactory(email=first)  # the address given up, taken by someone else
    enqueue_email(
        to=first,
        code="GENERIC",
        template_base="accounts/email/generic",
        context={"subject": "Pas à vous", "body": "Bonjour"},
    )

    candidate.user.refresh_from_db()
    owner_client.force_login(candidate.user)  # the address change ended the account's sessions
    archive = _archive(owner_client.get(reverse(URL)))

    data = json.loads(archive.read("donnees.json"))
    [former] = data["account"]["previous_email_addresses"]
    assert (former["email"], former["replaced_by"]) == (first, "staff")
    subjects = [mail["subject"] for mail in data["mails"]]
    assert "Avant" in subjects
    assert "Pas à vous" not in subjects
    assert {mail["to"] for mail in data["mails"]} <= {first, "nouvelle@example.org"}


def test_a_staff_members_mails_never_reach_a_candidate_who_once_had_their_address(client, candidate, central_manager):
    """A member of staff's address typed by mistake on the candidate's account, then changed by the helpdesk: the
    mails written to that member of staff, before the account existed or while the candidate "had" the address, are
    theirs; only a mail about the candidate's account written to it is the candidate's."""
    victim = StaffFactory(email="victime@univ.fr")
    user = candidate.user

    def mail(subject, *, to=victim.email, about=None):
        return enqueue_email(
            to=to,
            code="GENERIC",
            template_base="accounts/email/generic",
            context={"subject": subject, "body": "Bonjour"},
            about=about,
        )

    old = mail("Secret du personnel")
    OutboundEmail.objects.filter(pk=old.pk).update(created_at=datetime.datetime(2020, 3, 2, tzinfo=datetime.UTC))
    user.email = victim.email
    user.save(update_fields=["email"])
    mail("Secret récent")
    mail("Votre candidature", about=user)
    mail("Alerte de la commission", to="commission@univ.example", about=user)
    staff_change_account_email(account=user, new_email="attaquant@example.org", actor=central_manager)
    user.refresh_from_db()  # the change ended the account's sessions: a new one, after it
    client.force_login(user)

    data = json.loads(_archive(client.get(reverse(URL))).read("donnees.json"))

    subjects = [mail["subject"] for mail in data["mails"]]
    assert "Secret du personnel" not in subjects
    assert "Secret récent" not in subjects
    assert "Alerte de la commission" not in subjects
    assert "Votre candidature" in subjects


def _quarantine(application, original_name):
    """The antivirus finds ``original_name`` infected: the piece lets go of the file, kept under quarantine/."""
    document = DocumentFactory(original_name=original_name, uploaded_by=application.candidate.user)
    PieceSubmissionFactory(application=application, document=document)
    assert scanning._quarantine(
        document, signature="Win.Test.EICAR_HDB-1", recorded={"scanned_at": timezone.now()}, batch="rescan_documents"
    )
    document.refresh_from_db()
    assert document.file.name.startswith("quarantine/")
    return document


def test_a_quarantined_file_the_piece_let_go_of_is_listed_but_not_handed_back(
    owner_client, candidate, other_candidate, django_assert_num_queries
):
    """Regression: the file the antivirus quarantined is kept (owned by the account) once its piece let go of it; it
    was missing from the archive. It is listed, not handed back; another candidate's is not."""
    document = _quarantine(_apply(candidate, pieces=0), "Relevé de notes.pdf")
    _quarantine(_apply(other_candidate, pieces=0), "Passeport AUTRE.pdf")
    _quarantine(_apply(candidate, pieces=0), "Attestation.pdf")

    with django_assert_num_queries(20):  # one query for the files without a piece, whatever their number
        response = owner_client.get(reverse(URL))

    archive = _archive(response)
    text = archive.read("donnees.json").decode()
    data = json.loads(text)
    kept = [piece["file"] for piece in data["pieces"] if piece["piece"] is None]
    assert [file["original_name"] for file in kept] == ["Relevé de notes.pdf", "Attestation.pdf"]
    [file, _] = kept
    assert (file["sha256"], file["size"]) == (document.sha256, document.size)
    assert (file["quarantined"], file["in_archive"]) == (True, None)
    assert file["quarantined_at"] == document.scanned_at.isoformat()
    # The refused pieces themselves are listed as before, without a file.
    assert [piece["file"] for piece in data["pieces"] if piece["piece"] is not None] == [None, None]
    assert [name for name in archive.namelist() if name.startswith("pieces/")] == []
    assert "Passeport AUTRE" not in text


def test_a_held_file_is_listed_once(owner_client, candidate):
    """A file a piece holds is the piece's, even when the account owns it: not listed a second time."""
    application = _apply(candidate)
    document = application.pieces.get().document
    document.owner = candidate.user
    document.save(update_fields=["owner"])

    data = json.loads(_archive(owner_client.get(reverse(URL))).read("donnees.json"))

    assert [piece["file"]["sha256"] for piece in data["pieces"]] == [document.sha256]


ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsdWNhcy5iZXJuYXJkIn0.c2lnbmF0dXJl"


def test_the_ent_identity_is_in_the_archive_without_its_tokens(owner_client, candidate, other_candidate):
    """Regression: the ENT identity (allauth's SocialAccount: uid, claims) was missing from the archive. Its claims
    are listed, at any level, but never a token string; allauth's decoded ID token is listed as its claims."""
    SocialAccount.objects.create(
        user=candidate.user,
        provider="ent",
        uid="lucas.bernard",
        extra_data={
            "id_token": ID_TOKEN,
            "access_token": "at-secret",
            "userinfo": {"supannEtuId": "21901234", "refresh_token": "rt-secret", "email": "lucas@univ.example"},
        },
    )
    SocialAccount.objects.create(
        user=candidate.user,
        provider="ent",
        uid="8f2c-opaque",
        extra_data={"id_token": {"sub": "8f2c-opaque", "given_name": "Lucas"}, "userinfo": {"family_name": "BERNARD"}},
    )
    SocialAccount.objects.create(user=other_candidate.user, provider="ent", uid="camille.autre")

    text = _archive(owner_client.get(reverse(URL))).read("donnees.json").decode()

    first, second = json.loads(text)["account"]["ent_identities"]
    assert (first["provider"], first["uid"]) == ("ent", "lucas.bernard")
    assert first["claims"] == {"userinfo": {"supannEtuId": "21901234", "email": "lucas@univ.example"}}
    assert first["date_joined"]
    assert "last_login" in first
    assert second["claims"] == {
        "id_token_claims": {"sub": "8f2c-opaque", "given_name": "Lucas"},
        "userinfo": {"family_name": "BERNARD"},
    }
    for secret in (ID_TOKEN, "at-secret", "rt-secret", "camille.autre"):
        assert secret not in text
