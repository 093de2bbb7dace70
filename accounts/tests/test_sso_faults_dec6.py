"""The ENT and the staff directory, where they failed open:

- The back office's « Log out » (Django admin's, on every /gestion/ page) ends the ENT session too, as the site's
  own logout does (CAS single logout, OpenID Connect RP-initiated logout): it ended only the local session, and on a
  shared office computer the next person pressing the ENT button got the first one's staff account.
- A CAS server's ticket-validation answer longer than ``CAS_MAX_ANSWER_BYTES`` is refused as a server that does not
  answer (« L'ENT n'a pas pu confirmer votre connexion »), read no further than the cap: it was held whole.
- A directory value longer than the account's column (a name over 150 characters, an address over 254) is not read:
  a 500 at the staff member's ENT login on PostgreSQL, and the nightly refresh stopped at that account. An address is
  never cut (a cut address is someone else's mailbox). The nightly refresh writes each account on its own: a write
  the database refuses is reported, and the other accounts are still refreshed and the leavers deactivated.
- The directory's referrals are never followed (ldap3 followed any, binding to the referred host with the bind DN
  and its password), and a partial answer (a continuation reference: part of the base held by another server) is
  no answer: the nightly refresh deactivated the staff who lived there. « Ajouter depuis l'annuaire » says the
  directory does not answer when a search fails, not that nobody is staff.

The directory cases run against an OpenLDAP slapd of their own (``integration``), devtools/ldap's fixture with a
subtree referred to another server: a loopback listener that records what a client sends it.
"""

import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from unittest.mock import PropertyMock
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.core.management import call_command
from django.db import DataError, connection
from django.test import Client
from django.urls import reverse
from urllib3.response import HTTPResponse  # what python-cas reads its answers from

from accounts import directory, directory_refresh
from accounts.models import User
from accounts.tests.ent import STUB_CONFIG, STUB_ENT, cas_return, ent_providers
from accounts.tests.factories import StaffFactory
from accounts.tests.ldap_peer import BIND_DN, BIND_PASSWORD
from ecandidat import http
from ecandidat.models import BatchRun, StaffDirectoryChange
from ecandidat.tests.helpers import loopback_http
from ecandidat.tests.plugins.services import BASE_DIR, free_port

ADMIN = reverse("admin:index")
ADMIN_LOGOUT = reverse("admin:logout")
LOGIN = reverse("account_login")
CAS_CALLBACK = reverse("accounts:cas_callback")
OIDC_CALLBACK = "/accounts/oidc/ent/login/callback/"
END_SESSION = f"{STUB_ENT}/identity/o/logout"
HOME = "http://testserver/"
PASSWORD = "un-mot-de-passe-de-bureau-2026"


@pytest.fixture
def staff(db):
    user = StaffFactory(
        username="sophie.gestion",
        email="sophie.gestion@univ-perp.fr",
        first_name="Sophie",
        last_name="GESTION",
        from_directory=True,
    )
    user.set_password(PASSWORD)
    user.save()
    return user


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- the back office's « Log out » ---


def test_the_back_offices_logout_after_a_cas_login_ends_the_cas_session(
    client, cas_ent, staff, settings, django_assert_num_queries
):
    settings.STAFF_MFA_REQUIRED = True  # the ENT login is the second factor: the back office is open
    cas_ent.return_value = ("sophie.gestion", {"mail": ["sophie.gestion@univ-perp.fr"]}, None)
    client.get(CAS_CALLBACK, cas_return(client, "ST-1"))
    assert client.get(ADMIN).status_code == 200

    # The session, the account (the back office's permission: its second factor is the ENT login, in the session),
    # then the session's row deleted (savepoint, select, delete, release): as the site's own logout.
    with django_assert_num_queries(6):
        response = client.post(ADMIN_LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == f"https://cas.univ-perp.fr/cas/logout?service={quote(HOME, safe='')}"
    assert not _logged_in(client)
    assert client.get(ADMIN).status_code == 302


def _oidc_staff_login(client, mocker) -> None:
    """A staff member's ENT login over OpenID Connect, the ENT stubbed with an end-session endpoint."""
    config = {**STUB_CONFIG, "end_session_endpoint": END_SESSION}
    claims = {"sub": "f3a9-77", "preferred_username": "sophie.gestion", "email": "sophie.gestion@univ-perp.fr"}
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "openid_config", new_callable=PropertyMock, return_value=config)
    tokens = {"access_token": "at", "token_type": "Bearer", "id_token": "eyJ.eyJ.c2ln"}
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "get_access_token_data", return_value=tokens)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_fetch_user_info", return_value=claims)
    mocker.patch.object(OpenIDConnectOAuth2Adapter, "_decode_id_token", return_value=claims)
    to_ent = client.post(reverse("openid_connect_login", args=["ent"]))
    state = parse_qs(urlsplit(to_ent["Location"]).query)["state"][0]
    client.get(OIDC_CALLBACK, {"code": "c", "state": state})


def test_the_back_offices_logout_after_an_oidc_login_ends_the_ent_session(
    client, oidc_ent, staff, mocker, settings, django_assert_num_queries
):
    settings.STAFF_MFA_REQUIRED = True
    _oidc_staff_login(client, mocker)
    assert client.get(ADMIN).status_code == 200

    with django_assert_num_queries(6):  # as after a CAS login
        response = client.post(ADMIN_LOGOUT)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == END_SESSION
    assert parse_qs(location.query) == {
        "client_id": ["ecandidat-univ"],
        "post_logout_redirect_uri": [HOME],
        "id_token_hint": ["eyJ.eyJ.c2ln"],
    }
    assert not _logged_in(client)


def test_the_back_offices_logout_after_a_password_login_is_local(
    client, cas_ent, staff, settings, django_assert_num_queries
):
    settings.STAFF_MFA_REQUIRED = False
    client.post(LOGIN, {"login": staff.username, "password": PASSWORD})
    assert client.get(ADMIN).status_code == 200

    with django_assert_num_queries(6):
        response = client.post(ADMIN_LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not _logged_in(client)


def test_the_back_offices_logout_is_a_post(client, staff, settings):
    """A link (a GET, an image in a mail) logs nobody out: allauth's confirmation page, as /accounts/logout/."""
    settings.STAFF_MFA_REQUIRED = False
    client.force_login(staff)

    response = client.get(ADMIN_LOGOUT)

    assert response.status_code == 200
    assert _logged_in(client)


# --- the CAS server's answer, within a size ---

CAS_SUCCESS = (
    b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>'
    b"<cas:user>lucas.bernard</cas:user></cas:authenticationSuccess></cas:serviceResponse>"
)


def _huge_cas_answer(size: int, *, announced: bool):
    """A CAS server validating every ticket with a well-formed success of ``size`` bytes (padded with an XML
    comment), sent in pieces; ``announced``: with its Content-Length, else delimited by the connection's close."""
    padding = size - len(CAS_SUCCESS) - len(b"<!---->")
    body = b"<!--" + b" " * padding + b"-->" + CAS_SUCCESS

    class Huge(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's protocol)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            if announced:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for start in range(0, len(body), 64 * 1024):
                    self.wfile.write(body[start : start + 64 * 1024])
            except OSError:  # the client stopped reading
                return

        def log_message(self, *args):
            pass

    return Huge


@pytest.fixture
def cas_at(settings):
    """ENT_PROTOCOL=cas with the CAS server at the given loopback base URL."""

    def point(url: str) -> None:
        settings.ENT_PROTOCOL = "cas"
        settings.ENT_SERVER_URL = f"{url}/cas"
        settings.CAS_SERVER_URL = settings.ENT_SERVER_URL + "/"
        settings.SOCIALACCOUNT_PROVIDERS = ent_providers(settings.CAS_SERVER_URL)  # the "ent" app, as base.py declares

    return point


@pytest.mark.parametrize("announced", [False, True], ids=["read-to-the-cap", "announced"])
def test_a_cas_answer_longer_than_the_cap_is_the_could_not_confirm_message(
    db, cas_at, mocker, settings, announced, django_assert_num_queries
):
    read = mocker.spy(HTTPResponse, "read1")
    client = Client()  # in French
    with loopback_http(_huge_cas_answer(2 * 1024 * 1024, announced=announced)) as url:
        cas_at(url)
        back = cas_return(client, "ST-1")

        # the request's savepoint pair; the session read, and saved without the login's value (3): nothing else
        with django_assert_num_queries(6):
            response = client.get(CAS_CALLBACK, back, headers={"accept-language": "fr"})

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    page = client.get(LOGIN, headers={"accept-language": "fr"}).content.decode()
    assert "L’ENT n’a pas pu confirmer votre connexion" in page.replace("&#x27;", "’").replace("'", "’")
    assert not _logged_in(client)
    taken = sum(len(chunk) for chunk in read.spy_return_list)
    assert taken <= settings.CAS_MAX_ANSWER_BYTES + http.READ_CHUNK
    assert taken == 0 if announced else taken > 0  # announced: refused before its body is read


def test_the_cap_is_a_setting_and_a_validation_within_it_logs_in(
    client, cas_at, ent_candidate, settings, django_assert_num_queries
):
    with loopback_http(_huge_cas_answer(16 * 1024, announced=False)) as url:
        cas_at(url)
        settings.CAS_MAX_ANSWER_BYTES = 32 * 1024
        client.get(CAS_CALLBACK, cas_return(client, "ST-1"))
        assert _logged_in(client)  # 16 KiB: within the cap
        client.logout()

        settings.CAS_MAX_ANSWER_BYTES = 8 * 1024
        response = client.get(CAS_CALLBACK, cas_return(client, "ST-2"))

    assert response["Location"] == LOGIN
    assert not _logged_in(client)


def test_a_session_answer_too_large_is_an_oserror_as_a_silent_server_is():
    with loopback_http(_huge_cas_answer(256 * 1024, announced=False)) as url:
        session = http.TimeoutSession(5, max_bytes=64 * 1024)

        with pytest.raises(OSError, match="longer than the 65536 bytes") as raised:
            session.get(f"{url}/cas/p3/serviceValidate")

        assert len(http.TimeoutSession(5).get(f"{url}/cas/p3/serviceValidate").content) == 256 * 1024
    assert isinstance(raised.value, http.AnswerTooLarge)


# --- directory values longer than the account's columns ---

LONG_NAME = "Anne-" + "Marie" * 39  # 200 characters: first_name and last_name take 150
LONG_MAIL = "anne." + "x" * 240 + "@univ-perp.fr"  # 258 characters: email takes 254
FROM_DIRECTORY = "/gestion/accounts/user/from-directory/"
DOWN_FR = "L’annuaire ne répond pas. Veuillez réessayer plus tard."
NOT_FOUND_FR = "L’annuaire ne connaît aucun personnel avec cet identifiant ou cette adresse."


def _entry(uid: str, **attributes) -> dict:
    """A directory entry as ldap3 gives it in ``connection.response``."""
    values = {"uid": [uid], "eduPersonAffiliation": ["staff"], **{k: [v] for k, v in attributes.items()}}
    return {"type": "searchResEntry", "dn": f"uid={uid},ou=people,dc=univ,dc=fr", "attributes": values}


CONTINUATION = {"type": "searchResRef", "uri": ["ldap://annexe.univ-perp.fr/ou=annexe,ou=people,dc=univ,dc=fr"]}


class _Directory:
    """``directory.connect``'s connection, answering every search with ``response`` and the result code ``result``,
    as ldap3 leaves them on the connection (``searches``: the filters asked)."""

    def __init__(self, response: list, result: int = 0, description: str = "success"):
        self.answer, self.code, self.description = response, result, description
        self.response: list | None = None
        self.result: dict | None = None
        self.searches: list[str] = []

    def __call__(self, **kwargs):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def search(self, base, filter_, attributes=None, size_limit=0):
        self.searches.append(filter_)
        self.response = list(self.answer)
        self.result = {"result": self.code, "description": self.description, "message": "", "type": "searchResDone"}
        return self.code == 0


@pytest.fixture
def answering(settings, monkeypatch):
    """The directory configured, its connection a ``_Directory`` the test gives."""
    settings.LDAP_URL = "ldap://annuaire.invalid"
    settings.LDAP_PEOPLE_BASE = "ou=people,dc=univ,dc=fr"

    def answer(response: list, result: int = 0, description: str = "success") -> _Directory:
        answered = _Directory(response, result, description)
        monkeypatch.setattr(directory, "connect", answered)
        return answered

    return answer


def test_a_value_longer_than_its_column_is_not_read(caplog):
    entry = _entry("anne.longue", givenName=LONG_NAME, sn=LONG_NAME[:150], mail=LONG_MAIL)

    person = directory._person(entry)

    assert (person.first_name, person.last_name, person.email) == ("", LONG_NAME[:150], "")
    assert "its givenName has 200 characters, more than the 150" in caplog.text
    assert "its mail has 258 characters, more than the 254" in caplog.text
    assert directory._person(_entry("a", mail=LONG_MAIL[-254:])).email == LONG_MAIL[-254:]  # 254: taken


def test_a_staff_members_ent_login_with_a_long_directory_name_logs_in_and_keeps_the_stored_name(
    client, cas_ent, staff, answering, settings, django_assert_num_queries
):
    settings.STAFF_MFA_REQUIRED = True
    answering([_entry("sophie.gestion", givenName=LONG_NAME, sn="GESTION-MARTIN", mail=LONG_MAIL)])
    cas_ent.return_value = ("sophie.gestion", {"mail": ["sophie.gestion@univ-perp.fr"]}, None)
    back = cas_return(client, "ST-1")

    # The first CAS staff login (test_ldap_fixes: 32), and the refresh: its savepoint, the account locked, its last
    # name saved (not its first name nor its address), the change recorded, release.
    with django_assert_num_queries(37):
        response = client.get(CAS_CALLBACK, back)

    assert response.status_code == 302
    assert _logged_in(client)
    staff.refresh_from_db()
    assert (staff.first_name, staff.last_name, staff.email) == (
        "Sophie",
        "GESTION-MARTIN",
        "sophie.gestion@univ-perp.fr",
    )
    change = StaffDirectoryChange.objects.get()
    assert change.changes == {"last_name": ["GESTION", "GESTION-MARTIN"]}


def test_the_nightly_refresh_leaves_a_long_directory_value_unwritten(staff, answering):
    answering([_entry("sophie.gestion", givenName=LONG_NAME, sn="GESTION", mail=LONG_MAIL)])

    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    assert (outcome.refreshed, outcome.deactivated, outcome.failures) == ([], [], [])
    staff.refresh_from_db()
    assert (staff.is_active, staff.first_name, staff.email) == (True, "Sophie", "sophie.gestion@univ-perp.fr")


# --- the nightly refresh: one account the database refuses ---


def _directory_staff(username: str):
    user = StaffFactory(username=username, from_directory=True, first_name="Old")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def refused_for(mocker):
    """``User.save`` refused by the database (a value longer than its column on PostgreSQL) for ``username``."""
    save = User.save

    def refuse(username: str):
        def saving(user, *args, **kwargs):
            if user.username == username:
                raise DataError(f"value too long for type character varying(150) ({username})")
            return save(user, *args, **kwargs)

        return mocker.patch.object(User, "save", autospec=True, side_effect=saving)

    return refuse


def _nightly_directory(answering) -> None:
    """anne.longue and sophie.gestion are staff with new names; paul.parti is no longer listed."""
    answering([_entry("anne.longue", givenName="Anne"), _entry("sophie.gestion", givenName="Sophie")])


def test_an_account_the_database_refuses_does_not_stop_the_refresh(db, answering, refused_for):
    anne, sophie, paul = (_directory_staff(name) for name in ("anne.longue", "sophie.gestion", "paul.parti"))
    _nightly_directory(answering)
    refused_for("anne.longue")

    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    assert outcome.refreshed == ["sophie.gestion"]
    assert outcome.deactivated == ["paul.parti"]
    assert outcome.failures == ["anne.longue: value too long for type character varying(150) (anne.longue)"]
    for user in (anne, sophie, paul):
        user.refresh_from_db()
    assert (anne.first_name, anne.is_active) == ("Old", True)  # nothing written for it
    assert sophie.first_name == "Sophie"
    assert not paul.is_active
    assert list(StaffDirectoryChange.objects.values_list("user__username", "kind").order_by("id")) == [
        ("sophie.gestion", "refreshed"),
        ("paul.parti", "deactivated"),
    ]


def test_the_command_reports_the_refused_account_and_still_deactivates(db, answering, refused_for):
    _directory_staff("anne.longue")
    _directory_staff("sophie.gestion")
    paul = _directory_staff("paul.parti")
    _nightly_directory(answering)
    refused_for("paul.parti")  # the deactivation itself refused: reported
    err = io.StringIO()

    call_command("refresh_staff_directory", stdout=io.StringIO(), stderr=err)

    run = BatchRun.objects.get(name="refresh_staff_directory")
    assert run.status == BatchRun.Status.ERROR
    refused = "compte de gestionnaire ni mis à jour ni désactivé, la base de données l'a refusé : paul.parti"
    assert refused in run.errors
    assert run.counts["accounts refreshed"] == 2
    paul.refresh_from_db()
    assert paul.is_active


@pytest.mark.integration
def test_on_postgresql_a_name_too_long_for_its_column_is_refused_and_the_refresh_goes_on(db, settings, mocker):
    """The database's own refusal (PostgreSQL checks varchar lengths, SQLite does not): the directory's answer
    given past ``_person``'s check."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    settings.LDAP_URL = "ldap://annuaire.invalid"
    _directory_staff("anne.longue")
    sophie = _directory_staff("sophie.gestion")
    paul = _directory_staff("paul.parti")
    too_long = directory.DirectoryPerson("anne.longue", "", LONG_NAME, "", ("staff",))
    sophie_now = directory.DirectoryPerson("sophie.gestion", "", "Sophie", "", ("staff",))
    mocker.patch.object(
        directory, "look_up", return_value={"anne.longue": (too_long, True), "sophie.gestion": (sophie_now, True)}
    )

    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    assert [failure.split(":")[0] for failure in outcome.failures] == ["anne.longue"]
    assert (outcome.refreshed, outcome.deactivated) == (["sophie.gestion"], ["paul.parti"])
    sophie.refresh_from_db()
    paul.refresh_from_db()
    assert (sophie.first_name, paul.is_active) == ("Sophie", False)


# --- partial and failed answers, without a directory server ---


def test_look_up_refuses_an_answer_with_a_continuation_reference(answering):
    answering([_entry("sophie.gestion"), CONTINUATION])

    with pytest.raises(directory.DirectoryUnavailable, match="partial answer: continuation reference"):
        directory.look_up(["sophie.gestion", "louise.annexe"])


def test_the_nightly_refresh_deactivates_nobody_on_a_partial_answer(db, answering):
    annexe = _directory_staff("louise.annexe")  # lives in the part of the directory another server holds
    answering([_entry("sophie.gestion"), CONTINUATION])

    outcome = directory_refresh.refresh_staff_from_directory(max_deactivations=10)

    assert outcome.directory_error == "partial answer: continuation reference"
    annexe.refresh_from_db()
    assert annexe.is_active


@pytest.mark.parametrize(
    ("response", "result", "description"),
    [
        ([], 32, "noSuchObject"),  # a wrong LDAP_PEOPLE_BASE
        ([], 10, "referral"),
        ([_entry("sophie.gestion")], 3, "timeLimitExceeded"),
        ([CONTINUATION], 0, "success"),
    ],
    ids=["no-such-object", "referral", "time-limit", "continuation"],
)
def test_find_person_says_the_directory_failed_not_nobody(answering, response, result, description):
    answering(response, result, description)

    with pytest.raises(directory.DirectoryUnavailable):
        directory.find_person(uid="sophie.gestion")


def test_find_person_stopped_at_two_by_the_size_limit_is_ambiguous(answering):
    answering([_entry("a.secretariat"), _entry("b.secretariat")], 4, "sizeLimitExceeded")

    assert directory.find_person(email="secretariat@univ-perp.fr") is None


def test_add_from_the_directory_says_the_directory_does_not_answer(
    client, central_manager, answering, django_assert_num_queries
):
    answering([], 32, "noSuchObject")
    client.force_login(central_manager)

    # the session, the user; the request's savepoint, the staff scope, the account's and its groups' permissions,
    # release: nothing written
    with django_assert_num_queries(7):
        response = client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion"}, language="fr")

    assert response.status_code == 200
    page = response.content.decode()
    assert DOWN_FR in page
    assert NOT_FOUND_FR not in page
    assert User.objects.count() == 1


# --- over real LDAP: a slapd of this module's own, part of it referred to another server ---


class _Referred:
    """The server a referral names: a loopback listener that records the first message of each connection (a bind
    request carries the bind DN and its password), then hangs up."""

    def __init__(self):
        self.heard: list[bytes] = []
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                peer, _address = self._socket.accept()
            except OSError:  # closed
                return
            with peer:
                peer.settimeout(5)
                try:
                    self.heard.append(peer.recv(65536))
                except OSError:
                    self.heard.append(b"")

    def close(self):
        self._socket.close()
        self._thread.join(timeout=5)


def _ldif(referred_port: int) -> str:
    """devtools/ldap's fixture, and: under ou=people, a staff member whose names are longer than an account takes,
    three staff sharing the secretariat's address; ou=campus, whose part ou=annexe another server holds (a referral
    object: a search of ou=campus answers with a continuation reference, one based in ou=annexe with a referral)."""
    staff = (
        "objectClass: inetOrgPerson\nobjectClass: eduPerson\nobjectClass: supannPerson\neduPersonAffiliation: staff\n"
    )
    secretariat = "".join(
        f"\ndn: uid={uid},ou=people,dc=univ,dc=fr\n{staff}uid: {uid}\ncn: {uid}\nsn: SECRETARIAT\n"
        "mail: secretariat@univ-perp.fr\n"
        for uid in ("a.secretariat", "b.secretariat", "c.secretariat")
    )
    return (
        (BASE_DIR / "devtools" / "ldap" / "fixture.ldif").read_text()
        + f"\ndn: uid=anne.longue,ou=people,dc=univ,dc=fr\n{staff}uid: anne.longue\ncn: Anne Longue\n"
        f"givenName: {LONG_NAME}\nsn: LONGUE\nmail: {LONG_MAIL}\n"
        + secretariat
        + "\ndn: ou=campus,dc=univ,dc=fr\nobjectClass: organizationalUnit\nou: campus\n"
        f"\ndn: uid=louis.campus,ou=campus,dc=univ,dc=fr\n{staff}uid: louis.campus\ncn: Louis Campus\nsn: CAMPUS\n"
        "mail: louis.campus@univ-perp.fr\n"
        "\ndn: ou=annexe,ou=campus,dc=univ,dc=fr\nobjectClass: referral\nobjectClass: extensibleObject\nou: annexe\n"
        f"ref: ldap://127.0.0.1:{referred_port}/ou=annexe,ou=campus,dc=univ,dc=fr\n"
    )


@pytest.fixture(scope="module")
def referred():
    server = _Referred()
    yield server
    server.close()


@pytest.fixture(scope="module")
def own_slapd(referred):
    """devtools/ldap/start.sh, on a free port, its fixture ``_ldif``. Not under pytest's tmp dir: as root, slapd
    drops to the openldap user, who cannot enter that 0700 tree (as accounts/tests/ldap_peer.py)."""
    state = tempfile.mkdtemp(prefix="ecandidat-ldap-referrals-")
    for name in ("start.sh", "supann-subset.schema"):
        shutil.copy(BASE_DIR / "devtools" / "ldap" / name, state)
    with open(os.path.join(state, "fixture.ldif"), "w", encoding="utf-8") as ldif:
        ldif.write(_ldif(referred.port))
    env = {**os.environ, "LDAP_PORT": str(free_port()), "LDAP_DIR": state}
    subprocess.run([os.path.join(state, "start.sh")], env=env, check=True, capture_output=True)
    try:
        yield f"ldap://127.0.0.1:{env['LDAP_PORT']}"
    finally:
        subprocess.run([BASE_DIR / "devtools" / "ldap" / "stop.sh"], env=env, check=True, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def referring(settings, own_slapd, referred):
    """The directory is the module's slapd, its people ``LDAP_PEOPLE_BASE`` (ou=people unless a test says)."""
    settings.LDAP_URL = own_slapd
    settings.LDAP_BIND_DN = BIND_DN
    settings.LDAP_BIND_PASSWORD = BIND_PASSWORD
    settings.LDAP_PEOPLE_BASE = "ou=people,dc=univ,dc=fr"
    settings.LDAP_START_TLS = False
    referred.heard.clear()
    return referred


@pytest.mark.integration
def test_over_real_ldap_a_referral_is_not_followed_with_the_bind_password(db, referring, settings):
    settings.LDAP_PEOPLE_BASE = "ou=annexe,ou=campus,dc=univ,dc=fr"  # held by the referred server

    with pytest.raises(directory.DirectoryUnavailable, match="referral"):
        directory.look_up(["louis.campus"])
    with pytest.raises(directory.DirectoryUnavailable, match="referral"):
        directory.find_person(uid="louis.campus")

    time.sleep(0.2)  # what a connection to the referred server sent has arrived
    assert referring.heard == []  # never contacted: neither the bind DN nor its password left
    assert not any(BIND_PASSWORD.encode() in message for message in referring.heard)


@pytest.mark.integration
def test_over_real_ldap_a_continuation_reference_deactivates_nobody(db, referring, settings):
    settings.LDAP_PEOPLE_BASE = "ou=campus,dc=univ,dc=fr"
    louis = _directory_staff("louis.campus")
    lea = _directory_staff("lea.annexe")  # in ou=annexe: the answer does not list her
    err = io.StringIO()

    call_command("refresh_staff_directory", stdout=io.StringIO(), stderr=err)

    assert "annuaire indisponible, rien n'a changé : partial answer: continuation reference" in err.getvalue()
    for user in (louis, lea):
        user.refresh_from_db()
    assert (louis.is_active, louis.first_name, lea.is_active) == (True, "Old", True)
    assert not StaffDirectoryChange.objects.exists()
    with pytest.raises(directory.DirectoryUnavailable, match="continuation reference"):
        directory.find_person(uid="lea.annexe")  # « Ajouter depuis l'annuaire »: not "no such staff member"


@pytest.mark.integration
def test_over_real_ldap_a_long_name_and_address_are_not_written_and_the_refresh_goes_on(db, referring):
    anne = _directory_staff("anne.longue")
    sophie = _directory_staff("sophie.gestion")
    paul = _directory_staff("paul.parti")
    out = io.StringIO()

    call_command("refresh_staff_directory", stdout=out)

    for user in (anne, sophie, paul):
        user.refresh_from_db()
    assert (anne.is_active, anne.first_name, anne.last_name, anne.email) == (
        True,
        "Old",
        "LONGUE",
        "anne.longue@example.org",
    )
    assert (sophie.first_name, sophie.email) == ("Sophie", "sophie.gestion@univ-perp.fr")
    assert not paul.is_active
    assert BatchRun.objects.get(name="refresh_staff_directory").status == BatchRun.Status.FINISH


@pytest.mark.integration
def test_over_real_ldap_three_staff_sharing_an_address_are_ambiguous_not_a_failure(db, referring):
    assert directory.find_person(email="secretariat@univ-perp.fr") is None  # sizeLimitExceeded at two: ambiguous
    assert directory.find_person(uid="b.secretariat").uid == "b.secretariat"


@pytest.mark.integration
def test_over_real_ldap_add_from_the_directory_with_a_wrong_base_says_it_does_not_answer(
    ldap, settings, client, central_manager
):
    settings.LDAP_PEOPLE_BASE = "ou=nowhere,dc=univ,dc=fr"  # "no such object": it said « aucun personnel »
    client.force_login(central_manager)

    response = client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion"}, language="fr")

    assert DOWN_FR in response.content.decode()
    assert not User.objects.filter(username="sophie.gestion").exists()
