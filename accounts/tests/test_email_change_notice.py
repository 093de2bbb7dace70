"""The former address of an account is told when the account's address is changed (CPT_MIN_MODIF_MAIL_ANCIEN).

Before, only the new address got a mail (the validation link, CPT_MIN_MODIF_MAIL): someone with the candidate's
session or password, or a helpdesk typo, moved the account to another address, validated it, chose a new password,
and the owner never heard of it (ASVS V2.5, V3: the user is notified when their authentication details change).
"""

import datetime

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from accounts import services
from accounts.tests.factories import CandidateUserFactory
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

NEW = "nouvelle.adresse@example.org"
MASKED = "n•••e@example.org"
NOTICE = "CPT_MIN_MODIF_MAIL_ANCIEN"
# 13:32 UTC: 14:32 in Paris (TIME_ZONE), in winter.
WHEN = datetime.datetime(2027, 1, 15, 13, 32, tzinfo=datetime.UTC)
SITE = "https://ecandidat.univ.example"


@pytest.fixture(autouse=True)
def _site_and_limits(settings):
    settings.SITE_URL = SITE
    settings.INSTITUTION_CONTACT_EMAIL = "assistance@univ.example"
    cache.clear()  # allauth's limits live in the cache, per address
    yield
    cache.clear()


def _mails() -> list[tuple[str, str]]:
    return list(OutboundEmail.objects.order_by("pk").values_list("code", "to"))


def test_the_candidates_change_mails_the_link_to_the_new_address_and_a_notice_to_the_old_one(
    client, candidate_user, mailoutbox, django_capture_on_commit_callbacks
):
    old = candidate_user.email
    client.language = "en"

    with time_machine.travel(WHEN, tick=False), django_capture_on_commit_callbacks(execute=True):
        client.force_login(candidate_user)  # a session of that day
        response = client.post(reverse("accounts:email_change"), {"email": NEW, "email2": NEW})

    assert response.status_code == 302
    assert _mails() == [("CPT_MIN_MODIF_MAIL", NEW), (NOTICE, old)]
    notice = OutboundEmail.objects.get(code=NOTICE)
    assert (notice.language, notice.about_id) == ("en", candidate_user.pk)
    assert notice.subject == "The e-mail address of your eCandidat account has been changed"
    assert (
        f"The e-mail address of your eCandidat account (dossier number {candidate_user.username}) was changed by you, "
        "from your account, on 15 January 2027 at 14:32." in notice.body
    )
    assert f"Its new address is {MASKED}:" in notice.body
    assert NEW not in notice.body  # the new address is not given away in full
    assert "helpdesk" not in notice.body.split("If you did not")[0]
    assert "by writing to assistance@univ.example" in notice.body
    assert f"{SITE}/\n" in notice.body
    assert sorted(mail.to[0] for mail in mailoutbox) == sorted([NEW, old])


def test_the_notice_stays_at_the_address_it_was_sent_to_when_the_unsent_mails_follow_the_account(
    candidate_user, candidates_manager, django_capture_on_commit_callbacks
):
    """A typo of the helpdesk, corrected back, then a real change: the notices are the former owners' to read, not
    moved along with the account's other unsent mails (``readdress_unsent_mails``)."""
    first = candidate_user.email
    typo = "typo@example.org"
    with django_capture_on_commit_callbacks(execute=False):  # nothing leaves: every mail is still to send
        services.change_email(user=candidate_user, new_email=typo, actor=candidates_manager)
        services.change_email(user=candidate_user, new_email=first, actor=candidates_manager)
        services.change_email(user=candidate_user, new_email=NEW, actor=candidate_user)

    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING).count() == 6
    assert list(OutboundEmail.objects.filter(code=NOTICE).order_by("pk").values_list("to", flat=True)) == [
        first,  # typo: told to the first address, still there after the account left it again
        typo,  # back to the first: told to the typo
        first,  # the candidate's change
    ]
    # The validation links did follow the account.
    assert set(OutboundEmail.objects.exclude(code=NOTICE).values_list("to", flat=True)) == {NEW}


def test_a_refused_change_tells_the_old_address_nothing(candidate_user, other_candidate_user):
    taken = other_candidate_user.email
    assert services.change_email(user=candidate_user, new_email=taken, actor=candidate_user) is False

    assert _mails() == [("CPT_MIN_MODIF_MAIL_EXISTE", taken)]


def test_the_same_mailbox_in_another_spelling_is_no_change_to_tell(campaign):
    user = CandidateUserFactory(campaign=campaign, email="Estelle@Example.org")

    assert services.change_email(user=user, new_email="estelle@example.org", actor=user) is True

    assert _mails() == [("CPT_MIN_MODIF_MAIL", "estelle@example.org")]


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("isabelle.martin@example.org", "i•••n@example.org"),
        ("ines@univ.example", "i•••s@univ.example"),
        ("al@example.org", "a•••@example.org"),
        ("x@example.org", "x•••@example.org"),
    ],
)
def test_mask_email(address, masked):
    assert services.mask_email(address) == masked
