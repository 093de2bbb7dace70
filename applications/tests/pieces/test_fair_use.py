"""Fair use (issue 9): uploads and dossier PDFs are limited per account and per IP address, with a French message,
status 429 and ``Retry-After``; nothing of a refused upload is stored."""

import json
import os
import uuid
from urllib.parse import urlsplit

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from accounts.tests.factories import CandidateUserFactory
from accounts.tests.mfa import Client
from applications.models import PieceSubmission
from applications.tests.factories_candidature import application_of
from documents import fair_use
from documents.models import Document
from documents.tests import hostile_files as hostile
from documents.tests.storage import stored_files
from ecandidat import cache as fail_open
from ecandidat.settings.base import _rate_limits
from offers.tests.factories import PieceTypeFactory

UPLOAD_LIMIT_FR = (
    "Trop de fichiers envoyés en peu de temps : patientez 10 minutes, puis envoyez celui-ci de nouveau. "
    "Il n'a pas été enregistré."
)
DOSSIER_LIMIT_FR = "Trop de téléchargements du dossier en peu de temps : patientez 10 minutes, puis réessayez."


@pytest.fixture
def limits(settings):
    """Small limits: 2 uploads per account and 3 per address, 1 dossier per account and 2 per address (10 min)."""
    settings.DOCUMENTS_RATE_LIMITS = {
        fair_use.UPLOAD: "2/10m/user,3/10m/ip",
        fair_use.STAFF_UPLOAD: "1/10m/user,5/10m/ip",
        fair_use.DOSSIER_PDF: "1/10m/user,2/10m/ip",
        fair_use.STAFF_DOSSIER_PDF: "1/10m/user,5/10m/ip",
    }


def french_client(user) -> Client:
    client = Client(language="fr")
    client.force_login(user)
    return client


@pytest.fixture
def pieces(formation):
    """Three more pieces of the formation, so that every upload targets an empty one."""
    extra = [PieceTypeFactory(label=f"Pièce {n}", order=10 + n) for n in range(3)]
    formation.piece_types.add(*extra)
    return extra


def upload(client, application, piece_type, uploaded_file=None, **headers):
    url = reverse("pieces:upload", args=[application.public_id, piece_type.pk])
    return client.post(url, {"file": uploaded_file or hostile.valid_pdf_upload()}, headers=headers)


def test_upload_over_the_account_limit_is_refused_with_429_beside_the_piece_and_nothing_stored(
    limits, candidate_user, application, piece, pieces, django_assert_num_queries
):
    client = french_client(candidate_user)
    assert upload(client, application, piece).status_code == 302
    # A refused file counts too: validating it is what costs.
    assert upload(client, application, pieces[0], hostile.upload("js.pdf", hostile.pdf_with_launch_action()))
    assert Document.objects.count() == 1

    # session, user, application, piece type; the pieces page: requested pieces, submissions; session save (3).
    # Nothing is read from the file, nothing written but the session.
    with django_assert_num_queries(6):
        response = upload(client, application, pieces[1])

    assert response.status_code == 429
    assert 590 <= int(response["Retry-After"]) <= 600
    assert [t.name for t in response.templates][0] == "applications/pieces.html"
    assert response.context["piece_error_id"] == pieces[1].pk
    html = response.content.decode()
    assert f'id="piece-error-{pieces[1].pk}">{UPLOAD_LIMIT_FR.replace("'", "&#x27;")}</p>' in html
    assert Document.objects.count() == PieceSubmission.objects.count() == 1
    assert len(stored_files()) == 1


def test_another_account_from_the_same_address_is_not_blocked_by_the_first_accounts_limit(
    limits, candidate_user, other_candidate_user, application, piece, pieces, formation
):
    first = french_client(candidate_user)
    assert upload(first, application, piece).status_code == 302
    assert upload(first, application, pieces[0]).status_code == 302
    assert upload(first, application, pieces[1]).status_code == 429
    assert upload(first, application, pieces[2]).status_code == 429  # refused uses are not counted for the address

    second = french_client(other_candidate_user)
    response = upload(second, application_of(other_candidate_user, formation), piece)

    assert response.status_code == 302
    assert Document.objects.filter(uploaded_by=other_candidate_user).count() == 1


def test_the_address_limit_stops_several_accounts_behind_one_address(
    limits, candidate_user, other_candidate_user, application, piece, pieces, formation
):
    first = french_client(candidate_user)
    assert upload(first, application, piece).status_code == 302
    assert upload(first, application, pieces[0]).status_code == 302
    second = french_client(other_candidate_user)
    other_application = application_of(other_candidate_user, formation)
    assert upload(second, other_application, piece).status_code == 302  # the address's third

    response = upload(second, other_application, pieces[0])

    assert response.status_code == 429
    assert Document.objects.count() == 3
    elsewhere = french_client(other_candidate_user)
    elsewhere.defaults["REMOTE_ADDR"] = "192.0.2.7"
    assert upload(elsewhere, other_application, pieces[0]).status_code == 302


def test_upload_script_gets_429_with_the_recap_address_and_the_message_there(
    limits, candidate_user, application, piece, pieces
):
    client = french_client(candidate_user)
    upload(client, application, piece)
    upload(client, application, pieces[0])

    response = upload(client, application, pieces[1], X_Upload_Progress="1")

    assert response.status_code == 429
    assert 590 <= int(response["Retry-After"]) <= 600
    location = json.loads(response.content)["location"]
    page = client.get(location)
    assert f"{pieces[1].label} : {UPLOAD_LIMIT_FR}" in [str(m) for m in page.context["messages"]]
    assert not PieceSubmission.objects.filter(piece_type=pieces[1]).exists()


def test_dossier_pdf_over_the_account_limit_is_429_with_a_french_message(
    limits, candidate_user, application, django_assert_num_queries
):
    client = french_client(candidate_user)
    url = reverse("pieces:dossier_pdf", args=[application.public_id])
    assert client.get(url).status_code == 200

    # session, user, application (in the request's savepoint, 3): no PDF is built, the session is not written
    with django_assert_num_queries(5):
        response = client.get(url)

    assert response.status_code == 429
    assert 590 <= int(response["Retry-After"]) <= 600
    assert DOSSIER_LIMIT_FR in response.content.decode().replace("&#x27;", "'")
    assert response.context["back"].endswith("#pieces")


def test_dossier_pdf_limit_is_per_account_then_per_address(
    limits, campaign, candidate_user, other_candidate_user, application, formation
):
    third_candidate = CandidateUserFactory(campaign=campaign)
    assert french_client(candidate_user).get(reverse("pieces:dossier_pdf", args=[application.public_id]))
    other = application_of(other_candidate_user, formation)
    second = french_client(other_candidate_user)
    assert second.get(reverse("pieces:dossier_pdf", args=[other.public_id])).status_code == 200

    third = application_of(third_candidate, formation)
    response = french_client(third_candidate).get(reverse("pieces:dossier_pdf", args=[third.public_id]))

    assert response.status_code == 429  # the address's third dossier in the window


def test_staff_dossier_pdf_over_the_limit_is_429(limits, centre_manager, application):
    client = french_client(centre_manager)
    url = reverse("pieces:staff_dossier_pdf", args=[application.public_id])
    assert client.get(url).status_code == 200

    response = client.get(url)

    assert response.status_code == 429
    assert response["Retry-After"]
    assert DOSSIER_LIMIT_FR in response.content.decode().replace("&#x27;", "'")
    assert response.context["back"] == reverse("admin:applications_application_change", args=[application.pk])


def test_staff_upload_over_the_limit_is_429_and_nothing_stored(limits, centre_manager, application, piece, pieces):
    client = french_client(centre_manager)
    url = reverse("pieces:staff_upload", args=[application.public_id, piece.pk])
    assert client.post(url, {"file": hostile.valid_pdf_upload()}).status_code == 302

    second = reverse("pieces:staff_upload", args=[application.public_id, pieces[0].pk])
    response = client.post(second, {"file": hostile.valid_pdf_upload()})

    assert response.status_code == 429
    assert response["Retry-After"]
    assert "Pièce 0 : Trop de fichiers envoyés" in response.content.decode()
    assert Document.objects.count() == 1


def test_outsiders_get_404_before_any_count(limits, other_candidate_user, application, piece):
    client = french_client(other_candidate_user)
    for _ in range(5):
        assert upload(client, application, piece).status_code == 404

    own = application_of(other_candidate_user, application.formation)
    assert upload(client, own, piece).status_code == 302


@pytest.mark.parametrize("value", ["30/10m", "30/10m/key", "0/10m/user", "many/10m/user", "30/10w/user"])
def test_a_malformed_rate_stops_the_start_naming_the_variable(value):
    with pytest.raises(ImproperlyConfigured, match="UPLOAD_RATE_LIMITS"):
        _rate_limits("UPLOAD_RATE_LIMITS", value)


def test_default_limits_are_well_formed_and_per_account_first(settings):
    for action in fair_use.ACTIONS:
        rates = settings.DOCUMENTS_RATE_LIMITS[action].split(",")
        assert rates[0].endswith("/user")
        assert rates[1].endswith("/ip")
    assert _rate_limits("X", "") == ""


# --- On the real Redis (the production cache) -----------------------------------------------------------------


@pytest.fixture
def redis_cache(settings, redis_proxy):
    """The default cache on the real Redis through ``redis_proxy``, as in production (fail-open backend), under a
    key prefix of its own; its keys are deleted afterwards (never a FLUSHDB: other tests share the database).
    Yields a direct Redis client (as another process would see the server), the prefix, and the proxy."""
    database = urlsplit(os.environ["REDIS_URL"]).path or "/0"
    prefix = f"fair-use-test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "ecandidat.cache.FailOpenRedisCache",
            "LOCATION": redis_proxy.url + database,
            "KEY_PREFIX": prefix,
            # 5 s: 1 s through the Python proxy can time out on a loaded CI (fail-open: no 429); refusals stay instant
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 5},
        },
    }
    fail_open._down_until.clear()
    direct = redis.Redis.from_url(os.environ["REDIS_URL"])
    yield direct, prefix, redis_proxy
    for key in direct.scan_iter(f"{prefix}:*"):
        direct.delete(key)
    direct.close()
    fail_open._down_until.clear()


@pytest.mark.integration
def test_counts_live_in_redis_where_every_process_reads_them(
    limits, redis_cache, candidate_user, application, piece, pieces
):
    direct, prefix, _proxy = redis_cache
    client = french_client(candidate_user)
    assert upload(client, application, piece).status_code == 302
    assert upload(client, application, pieces[0]).status_code == 302

    keys = [key.decode() for key in direct.scan_iter(f"{prefix}:*:rl:documents:upload:*")]
    assert sorted(key.split(":")[-2] for key in keys) == ["ip", "user"]  # one counter per address, one per account
    response = upload(client, application, pieces[1])

    assert response.status_code == 429
    assert Document.objects.count() == 2


@pytest.mark.integration
def test_uploads_keep_working_while_redis_is_down(limits, redis_cache, candidate_user, application, piece, caplog):
    _direct, _prefix, proxy = redis_cache
    client = french_client(candidate_user)
    proxy.close()
    try:
        response = upload(client, application, piece)
    finally:
        proxy.open()

    assert response.status_code == 302  # fails open: the limits do not apply while Redis is unreachable
    assert Document.objects.count() == 1
    assert "failing open" in caplog.text


def test_the_pieces_page_of_a_429_says_error_in_its_title(limits, candidate_user, application, piece, pieces):
    """RGAA 11.10: the page that shows the limit beside the piece says « Erreur : » in its title, as a form in
    error does (found by review); the accepted uploads before it left only success messages."""
    client = french_client(candidate_user)
    assert upload(client, application, piece).status_code == 302
    assert upload(client, application, pieces[0]).status_code == 302

    response = upload(client, application, pieces[1])

    assert response.status_code == 429
    assert "<title>Erreur : Pièces justificatives" in response.content.decode()
