"""Review findings of 6 December, the double clicks themselves on PostgreSQL: two requests of the same session at
once, each with its own connection, the second waiting for the account's row lock the first holds.

- « Définir un mot de passe » clicked twice: both requests found no password; the second was a 500.
- « Modifier mon adresse mail » submitted twice: the second deleted the address the first mailed the link of, and
  mailed another.
"""

import re
import threading

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import connection, connections
from django.urls import reverse

from accounts import services
from accounts.tests.mfa import Client
from ecandidat.models import OutboundEmail

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NEW = "nouvelle.adresse@example.org"
PASSWORD = "une-phrase-de-passe-solide-2026"


def _same_browser(client) -> Client:
    """A second client sending the first one's cookies: the second click of the same tab."""
    other = Client()
    other.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return other


def _twice_at_once(clients, url, data) -> list:
    """POST ``data`` to ``url`` from each client, in threads; the status codes (or the error) in order."""
    outcomes = [None] * len(clients)

    def post(index, client):
        try:
            outcomes[index] = client.post(url, data, language="fr").status_code
        except Exception as error:  # noqa: BLE001 (the test reports what went wrong)
            outcomes[index] = repr(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(index, client)) for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_set_password_clicked_twice_answers_twice_as_a_success(client, ent_student, mocker):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    client.force_login(ent_student)
    barrier = threading.Barrier(2, timeout=10)
    may_set_password = services.may_set_password

    def both_checked(user):
        allowed = may_set_password(user)
        barrier.wait()  # both requests found no password before either sets one
        return allowed

    mocker.patch.object(services, "may_set_password", both_checked)

    outcomes = _twice_at_once(
        [client, _same_browser(client)],
        reverse("accounts:password_set"),
        {"password1": PASSWORD, "password2": PASSWORD},
    )

    assert outcomes == [302, 302]
    ent_student.refresh_from_db()
    assert ent_student.check_password(PASSWORD)


def test_email_change_submitted_twice_mails_one_link_that_works(client, candidate_user, mocker, mailoutbox):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    client.force_login(candidate_user)
    barrier = threading.Barrier(2, timeout=10)
    change_email = services.change_email

    def both_submitted(**kwargs):
        barrier.wait()  # both forms checked the address against the old one before either changes it
        return change_email(**kwargs)

    mocker.patch.object(services, "change_email", both_submitted)

    outcomes = _twice_at_once(
        [client, _same_browser(client)], reverse("accounts:email_change"), {"email": NEW, "email2": NEW}
    )

    assert outcomes == [302, 302]
    assert OutboundEmail.objects.filter(code="CPT_MIN_MODIF_MAIL").count() == 1
    (validation,) = [mail for mail in mailoutbox if mail.to == [NEW]]
    response = Client().post(re.search(r"https?://\S+", validation.body).group(0))
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=candidate_user).verified
