"""The destruction of an archived campaign deletes the mails of the accounts it destroys, as the CNIL erasure does:
they were kept (``about`` set to null), a mail not sent yet went out after the destruction, and a failed one kept
its text (the name, the decision) for the back office to « Renvoyer »."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from accounts.models import CandidateAccount, PreviousEmailAddress, User
from applications.models import Application, Candidate
from applications.services import erasure, nightly
from applications.tests.factories_candidature import make_application
from ecandidat.batches import Report
from ecandidat.models import OutboundEmail
from offers.tests.factories import CampaignFactory, FormationFactory

TODAY = datetime.date(2027, 9, 1)


def run():
    report = Report()
    nightly.destroy_archived_campaigns(report, dry_run=False, limit=None, today=TODAY)
    return report


def mail(to, *, about=None, status=OutboundEmail.Status.PENDING, at=None):
    row = OutboundEmail.objects.create(
        code="GENERIC", language="fr", to=to, subject="Décision", body="Madame Dupont, avis favorable", about=about
    )
    OutboundEmail.objects.filter(pk=row.pk).update(
        status=status, sent_at=timezone.now() if status == OutboundEmail.Status.SENT else None
    )
    if at is not None:
        OutboundEmail.objects.filter(pk=row.pk).update(created_at=at)
    return row.pk


@pytest.fixture
def destroyed(settings, campaign, centre, commission):
    """A candidate of a campaign past its retention, and the mails of the outbox around them."""
    settings.ARCHIVE_RETENTION_DAYS = 365
    old = CampaignFactory(archive_on=TODAY - datetime.timedelta(days=400))
    formation = FormationFactory(centre=centre, commission=commission)
    user = make_application(formation, campaign=old, email="Anne.Dupont@example.org").candidate.user
    joined = timezone.now() - datetime.timedelta(days=30)
    User.objects.filter(pk=user.pk).update(date_joined=joined)
    replaced = joined + datetime.timedelta(days=10)
    PreviousEmailAddress.objects.create(user=user, email="anne.old@example.org", replaced_at=replaced)
    # An address she had first, which her account of the active campaign uses: its mails cannot be told apart.
    PreviousEmailAddress.objects.create(
        user=user, email="anne.new@example.org", replaced_at=joined + datetime.timedelta(days=2)
    )
    make_application(formation, campaign=campaign, email="anne.new@example.org")
    user.refresh_from_db()
    gone = {
        "pending to her": mail("anne.dupont@example.org", about=user),
        "failed to her, not linked": mail("ANNE.DUPONT@example.org", status=OutboundEmail.Status.FAILED),
        "sent to her": mail("anne.dupont@example.org", status=OutboundEmail.Status.SENT),
        "centre's copy about her": mail("ctr@univ.example", about=user),
        "to her former address while hers": mail("anne.old@example.org", at=joined + datetime.timedelta(days=5)),
    }
    kept = {
        "to her address before her account": mail("anne.dupont@example.org", at=joined - datetime.timedelta(days=1)),
        "to her former address after she left it": mail("anne.old@example.org", at=replaced + datetime.timedelta(1)),
        "to the active account": mail("anne.new@example.org"),
        "to an address both had, while hers": mail("anne.new@example.org", at=joined + datetime.timedelta(days=1)),
        "to someone else": mail("paul@example.org"),
    }
    return user, gone, kept


def test_the_mails_of_a_destroyed_account_go_with_it(destroyed):
    user, gone, kept = destroyed
    erased = set(erasure._mails(user).values_list("pk", flat=True))

    report = run()

    assert report.counts == {"accounts deleted": 1, "mails deleted": len(gone), "campaigns destroyed": 1}
    assert set(OutboundEmail.objects.values_list("pk", flat=True)) == set(kept.values())
    assert erased == set(gone.values())  # what the CNIL erasure of the account would delete


def test_the_mails_are_deleted_with_their_chunk(destroyed, monkeypatch):
    """In the transaction of the chunk that deletes the accounts: a run stopped by its limit deletes the mails of the
    chunk's accounts, and leaves those of the accounts left for the next run."""
    user, gone, kept = destroyed
    monkeypatch.setattr(nightly, "CHUNK", 1)
    formation = user.candidate.applications.get().formation
    later = make_application(formation, campaign=user.campaign, email="zoe@example.org").candidate.user
    about_later = mail("zoe@example.org", about=later)

    report = Report()
    nightly.destroy_archived_campaigns(report, dry_run=False, limit=1, today=TODAY)

    assert report.counts == {"accounts deleted": 1, "mails deleted": len(gone), "chunks left for the next run": 1}
    assert set(OutboundEmail.objects.values_list("pk", flat=True)) == set(kept.values()) | {about_later}
    assert OutboundEmail.objects.get(pk=about_later).about == later


def test_the_back_office_history_of_a_destroyed_account_goes_with_it(destroyed, central_manager):
    """The admin's change history (``LogEntry``) names the person in its titles and addresses in its messages: the
    destruction deletes the lines of the account (as a user and as « Compte candidat », its logins included), its
    addresses and ENT identities (allauth's « Adresses e-mail » and « Comptes sociaux », titled with the address), its
    dossier, its applications and its mails, as the CNIL erasure does; the others' lines stay."""
    user, gone, kept = destroyed
    address = EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={"verified": True})[0]
    identity = SocialAccount.objects.create(user=user, provider="ent", uid="adupont")
    others_address = EmailAddress.objects.get_or_create(
        user=User.objects.get(email="anne.new@example.org"), email="anne.new@example.org"
    )[0]
    candidate = user.candidate
    application = candidate.applications.get()
    other = User.objects.get(email="anne.new@example.org")

    def line(model, pk, title):
        return LogEntry.objects.create(
            user=central_manager,
            content_type=ContentType.objects.get_for_model(model, for_concrete_model=False),
            object_id=str(pk),
            object_repr=title,
            action_flag=CHANGE,
            change_message="anne.dupont@example.org",
        ).pk

    doomed = {
        line(User, user.pk, "Anne DUPONT"),
        line(CandidateAccount, user.pk, user.username),  # a login, or the helpdesk's « lien renvoyé »
        line(Candidate, candidate.pk, "DUPONT Anne"),
        line(Application, application.pk, "DUPONT Anne – M1"),
        line(OutboundEmail, gone["failed to her, not linked"], "GENERIC → anne.dupont@example.org"),
        line(EmailAddress, address.pk, "Anne.Dupont@example.org"),
        line(SocialAccount, identity.pk, "adupont"),
    }
    staying = {
        line(CandidateAccount, other.pk, other.username),
        line(Candidate, other.candidate.pk, "DUPONT Anne (active campaign)"),
        line(OutboundEmail, kept["to someone else"], "GENERIC → paul@example.org"),
        line(EmailAddress, others_address.pk, "anne.new@example.org"),
    }

    run()

    assert set(LogEntry.objects.values_list("pk", flat=True)) == staying
    assert not LogEntry.objects.filter(pk__in=doomed).exists()
