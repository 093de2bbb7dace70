"""The demonstration mailbox ("Boîte mail de démonstration", ecandidat/mailbox.py): the outbox as an inbox, in
development only."""

import uuid

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.urls import Resolver404, include, path, resolve

from ecandidat import attachments, mailbox
from ecandidat import urls as root_urls
from ecandidat.attachments import AttachmentRef, AttachmentUnavailable
from ecandidat.models import OutboundEmail
from ecandidat.tests.tables import card_table, card_table_roles

# ecandidat/urls.py mounts the mailbox only when DEBUG is on and the mail backend delivers nothing, at import time
# (never in tests): mount it here.
urlpatterns = [
    *(p for p in root_urls.urlpatterns if getattr(p, "namespace", None) != "mailbox"),
    path("boite-mail/", include("ecandidat.mailbox_urls")),
]

pytestmark = pytest.mark.urls(__name__)


def _mail(**kwargs):
    defaults = {"to": "estelle@example.org", "code": "CPT_MIN_CREATE", "language": "en", "subject": "Subject"}
    defaults.update(kwargs)
    defaults.setdefault("body", "Open https://ecandidat.example/accounts/confirm-email/abc/ now.")
    return OutboundEmail.objects.create(**defaults)


def test_list_shows_outbox_rows_newest_first(client, db, settings, django_assert_num_queries):
    settings.DEBUG = True
    first = _mail(subject="Creation of your eCandidat account", to="first@example.org")
    second = _mail(subject="Your eCandidat credentials", code="CPT_MIN_ID_OUBLIE", to="second@example.org")
    with django_assert_num_queries(3):  # request savepoint, the outbox rows, release (anonymous: no session)
        response = client.get("/boite-mail/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Demonstration mailbox" in html
    assert html.index("Your eCandidat credentials") < html.index("Creation of your eCandidat account")
    assert f'href="/boite-mail/{first.public_id}/"' in html
    assert f'href="/boite-mail/{second.public_id}/"' in html
    assert "CPT_MIN_ID_OUBLIE" in html
    assert "second@example.org" in html
    # Read as cards on a phone, each element with its role (ecandidat/tests/tables.py): no row header here.
    assert card_table_roles(html) == [card_table(columns=4, rows=2, cells=2 * 4, row_headers=0)]


def test_empty_mailbox(client, db, settings, django_assert_num_queries):
    settings.DEBUG = True
    with django_assert_num_queries(3):
        response = client.get("/boite-mail/")
    assert response.status_code == 200
    assert "No e-mail yet." in response.content.decode()


def test_detail_shows_the_body_with_clickable_link(client, db, settings, django_assert_num_queries):
    settings.DEBUG = True
    email = _mail(subject="Validate your e-mail address", code="CPT_MIN_MODIF_MAIL")
    with django_assert_num_queries(3):
        response = client.get(f"/boite-mail/{email.public_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Validate your e-mail address</h1>" in html
    assert '<a href="https://ecandidat.example/accounts/confirm-email/abc/"' in html
    assert "estelle@example.org" in html
    assert "CPT_MIN_MODIF_MAIL" in html


def test_detail_of_an_unknown_mail_is_404(client, db, settings, django_assert_num_queries):
    settings.DEBUG = True
    with django_assert_num_queries(4):  # savepoint, lookup, rolled back, released
        response = client.get(f"/boite-mail/{uuid.uuid4()}/")
    assert response.status_code == 404


def test_mailbox_is_read_only(client, db, settings):
    settings.DEBUG = True
    email = _mail()
    assert client.post("/boite-mail/").status_code == 405
    assert client.post(f"/boite-mail/{email.public_id}/").status_code == 405


def test_unreachable_without_debug_even_if_mounted(client, db, settings, django_assert_num_queries):
    settings.DEBUG = False
    email = _mail()
    with django_assert_num_queries(3):  # request savepoint rolled back: no outbox query
        assert client.get("/boite-mail/").status_code == 404
    with django_assert_num_queries(3):
        assert client.get(f"/boite-mail/{email.public_id}/").status_code == 404


def test_views_refuse_without_debug(db, settings):
    settings.DEBUG = False
    email = _mail()
    factory = RequestFactory()
    with pytest.raises(Http404):
        mailbox.mailbox(factory.get("/boite-mail/"))
    with pytest.raises(Http404):
        mailbox.mailbox_detail(factory.get("/"), public_id=email.public_id)


def test_not_mounted_by_the_project_urls_without_debug():
    # The test settings run without DEBUG, so ecandidat/urls.py was imported without the mailbox.
    with pytest.raises(Resolver404):
        resolve("/boite-mail/", urlconf="ecandidat.urls")


# --- attachments ----------------------------------------------------------------------------------------------------

PDF = b"%PDF-1.4 mailbox"


def _read(key: str) -> bytes:
    if key != "1":
        raise AttachmentUnavailable("object deleted")
    return PDF


attachments.register("tests.mailbox", _read)


def _with_files(*keys: str) -> OutboundEmail:
    refs = [
        AttachmentRef(provider="tests.mailbox", key=key, filename=f"lettre-{key}.pdf", mimetype="application/pdf")
        for key in keys
    ]
    return _mail(attachments=[ref.as_json() for ref in refs])


def _file_url(email, index=0) -> str:
    return f"/boite-mail/{email.public_id}/pieces-jointes/{index}/"


def test_detail_lists_the_attachment_names(client, db, settings, django_assert_num_queries):
    settings.DEBUG = True
    email = _with_files("1", "2")

    with django_assert_num_queries(3):  # anonymous: no staff scope read
        response = client.get(f"/boite-mail/{email.public_id}/")

    html = response.content.decode()
    assert "<li>lettre-1.pdf</li>" in html
    assert "<li>lettre-2.pdf</li>" in html
    assert "pieces-jointes" not in html
    assert "Signed in as the central office, you can download them." in html


def test_the_central_office_downloads_them(client, db, settings, central_manager, django_assert_num_queries):
    settings.DEBUG = True
    email = _with_files("1")
    client.force_login(central_manager)

    page = client.get(f"/boite-mail/{email.public_id}/")
    with django_assert_num_queries(6):  # session, user, savepoint, staff scope, the row, release
        response = client.get(_file_url(email))

    assert f'href="{_file_url(email)}"' in page.content.decode()
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="lettre-1.pdf"'
    assert (response["X-Content-Type-Options"], response["Cache-Control"]) == ("nosniff", "no-store")


@pytest.mark.parametrize("persona", ["centre_manager", "commission_member", "candidate_user"])
def test_anyone_else_gets_404(client, db, settings, persona, request):
    settings.DEBUG = True
    email = _with_files("1")
    client.force_login(request.getfixturevalue(persona))

    assert client.get(_file_url(email)).status_code == 404


def test_anonymous_is_sent_to_login(client, db, settings):
    settings.DEBUG = True
    email = _with_files("1")

    response = client.get(_file_url(email))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_file_that_can_never_be_had_or_out_of_range_is_404(client, db, settings, central_manager):
    settings.DEBUG = True
    email = _with_files("1", "2")
    client.force_login(central_manager)

    assert client.get(_file_url(email, 1)).status_code == 404
    assert client.get(_file_url(email, 2)).status_code == 404


def test_no_download_without_debug(client, db, settings, central_manager):
    settings.DEBUG = False
    email = _with_files("1")
    client.force_login(central_manager)

    assert client.get(_file_url(email)).status_code == 404
