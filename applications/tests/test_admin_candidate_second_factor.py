"""A candidate who lost both their phone and their recovery codes gets their account back from the helpdesk: on
« Comptes candidats », the central office and the candidates managers with write access (GCA) remove the account's
second factor (allauth's authenticators: the app, recovery codes); the password reset does not, and « Seconds
facteurs du personnel » lists staff only. Nobody else may, the read-only role included."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext

from accounts.models import CandidateAccount
from accounts.services import remove_candidate_second_factor
from accounts.tests.factories import CandidateUserFactory
from accounts.tests.mfa import Client
from ecandidat.exceptions import BusinessRuleError
from ecandidat.models import OutboundEmail

pytestmark = pytest.mark.django_db

LIST = reverse("admin:accounts_candidateaccount_changelist")
LOGIN = reverse("account_login")
MFA_AUTHENTICATE = reverse("mfa_authenticate")
REFUSED = ["candidates_reader", "centre_manager", "other_centre_manager", "read_only_staff", "commission_member"]


def _page(account):
    return reverse("admin:accounts_candidateaccount_change", args=[account.pk])


def _remove(account):
    return reverse("admin:accounts_candidateaccount_remove_second_factor", args=[account.pk])


def _with_app(user):
    """``user`` activates an authenticator app and generates its recovery codes, as on allauth's pages."""
    TOTP.activate(user, generate_totp_secret())
    RecoveryCodes.activate(user)
    return user


@pytest.fixture
def protected(campaign):
    """A candidate whose account asks for an authenticator code at every login."""
    return _with_app(CandidateUserFactory(campaign=campaign, first_name="Inès", last_name="Protégée"))


def _removed_message() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        kinds = ", ".join(
            str(kind.label) for kind in sorted(Authenticator.Type) if kind != Authenticator.Type.WEBAUTHN
        )
        return gettext("Second factor removed (%(kinds)s): the candidate logs in with their password alone.") % {
            "kinds": kinds
        }


# --- what the pages show ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [0, 4])
def test_the_list_says_which_accounts_have_a_second_factor_with_flat_queries(
    client, central_manager, campaign, protected, extra, django_assert_num_queries
):
    plain = CandidateUserFactory(campaign=campaign)
    for _index in range(extra):
        _with_app(CandidateUserFactory(campaign=campaign))
    client.force_login(central_manager)
    client.get(LIST)  # per-process memos warm

    # Session, user, scope, Django's permissions (2: the sidebar), the count, the page of rows, the savepoint pair:
    # as before, the second factor is a column of the page's one query.
    with django_assert_num_queries(9):
        response = client.get(LIST)

    rows = {account.pk: account for account in response.context["cl"].result_list}
    assert len(rows) == 2 + extra
    assert (rows[protected.pk].second_factor, rows[plain.pk].second_factor) == (True, False)
    assert capfirst(gettext("second factor (authenticator app)")) in response.content.decode()  # the column


@pytest.mark.parametrize("persona", ["central_manager", "candidates_manager"])
def test_the_account_page_says_so_and_offers_the_removal_in_one_query(
    client, request, persona, protected, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(persona))
    client.get(_page(protected))

    # Session, user, scope, the account (its second factor with it), Django's permissions (2), the savepoint pair.
    with django_assert_num_queries(8):
        response = client.get(_page(protected))

    assert response.status_code == 200
    assert response.context["original"].second_factor is True
    assert _remove(protected) in response.content.decode()


def test_an_account_without_second_factor_is_offered_no_removal(client, central_manager, campaign):
    plain = CandidateUserFactory(campaign=campaign)
    client.force_login(central_manager)

    response = client.get(_page(plain))

    assert response.context["original"].second_factor is False
    assert _remove(plain) not in response.content.decode()


# --- the removal -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["central_manager", "candidates_manager"])
def test_the_helpdesk_removes_it_and_the_candidate_logs_in_with_the_password_alone(
    client, request, persona, protected, persona_password, django_assert_num_queries
):
    other = _with_app(CandidateUserFactory(campaign=protected.campaign))
    candidate = Client()
    assert candidate.post(LOGIN, {"login": protected.email, "password": persona_password}).url == MFA_AUTHENTICATE
    actor = request.getfixturevalue(persona)
    client.force_login(actor)
    client.get(_page(protected))  # per-process memos warm

    # Session, user, the request's savepoint, scope, the account; the service: savepoint, the account locked, the
    # kinds of its authenticators, their deletion (one DELETE), the history line (content type cached), the notice
    # to the candidate (the language their account keeps, the central office's text for it, the outbox row), the
    # two releases.
    with django_assert_num_queries(15):
        response = client.post(_remove(protected))

    assert response.status_code == 302
    assert response["Location"] == _page(protected)
    assert not Authenticator.objects.filter(user=protected).exists()
    assert Authenticator.objects.filter(user=other).count() == 2  # another candidate's stay
    entry = LogEntry.objects.get(object_id=str(protected.pk))
    assert entry.content_type == ContentType.objects.get_for_model(CandidateAccount, for_concrete_model=False)
    assert (entry.user_id, entry.get_change_message()) == (actor.pk, _removed_message())
    page = client.get(response["Location"])
    assert [str(m) for m in page.context["messages"]] == [
        gettext(
            "The second factor of this account was removed: the candidate logs in with their password alone, and may "
            "activate a new authenticator app from their account."
        )
    ]
    assert page.context["original"].second_factor is False
    history = client.get(reverse("admin:accounts_candidateaccount_history", args=[protected.pk]))
    assert _removed_message() in history.content.decode()
    # The candidate is told (CPT_MIN_DOUBLE_AUTH_RETIREE: applications/tests/test_second_factor_removed_notice.py).
    assert list(OutboundEmail.objects.values_list("code", "to", "about_id")) == [
        ("CPT_MIN_DOUBLE_AUTH_RETIREE", protected.email, protected.pk)
    ]

    candidate = Client()
    login = candidate.post(LOGIN, {"login": protected.email, "password": persona_password})
    assert login.status_code == 302
    assert login.url != MFA_AUTHENTICATE
    assert candidate.session["_auth_user_id"] == str(protected.pk)


def test_a_second_submit_removes_nothing_more_and_says_so(client, central_manager, protected):
    client.force_login(central_manager)
    client.post(_remove(protected))

    response = client.post(_remove(protected), follow=True)

    assert [str(m) for m in response.context["messages"]][-1] == gettext(
        "This account has no second factor: nothing was removed."
    )
    assert LogEntry.objects.filter(object_id=str(protected.pk)).count() == 1
    assert OutboundEmail.objects.filter(code="CPT_MIN_DOUBLE_AUTH_RETIREE").count() == 1  # one notice, not two


@pytest.mark.parametrize("persona", REFUSED)
def test_nobody_else_removes_it(client, request, persona, protected):
    client.force_login(request.getfixturevalue(persona))

    page = client.get(_page(protected))
    post = client.post(_remove(protected))

    assert post.status_code == 404
    if persona == "candidates_reader":  # reads the account, without the button
        assert page.status_code == 200
        assert _remove(protected) not in page.content.decode()
    else:
        assert page.status_code == 404
    assert Authenticator.objects.filter(user=protected).count() == 2
    assert not LogEntry.objects.exists()


def test_only_a_post_removes_it(client, central_manager, protected):
    client.force_login(central_manager)

    assert client.get(_remove(protected)).status_code == 405
    assert Authenticator.objects.filter(user=protected).count() == 2


def test_a_staff_members_second_factor_is_not_reached_from_the_candidates(client, central_manager, centre_manager):
    _with_app(centre_manager)
    client.force_login(central_manager)

    assert client.post(_remove(centre_manager)).status_code == 404
    with pytest.raises(BusinessRuleError):
        remove_candidate_second_factor(user=centre_manager, actor=central_manager)
    assert Authenticator.objects.filter(user=centre_manager).count() == 2
    assert not LogEntry.objects.exists()
