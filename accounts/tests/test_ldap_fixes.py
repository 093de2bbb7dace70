"""The staff directory's connection and the accounts it creates or logs in:

- TLS checks the directory's certificate (``ldaps://``, or ``ldap://`` with ``LDAP_START_TLS``), against the system's
  CAs or ``LDAP_CA_FILE``: a man in the middle with a certificate nobody vouches for gets no bind password, and the
  directory is "unavailable" (nothing changed, never a 500). Against the OpenLDAP peer (accounts/tests/ldap_peer.py)
  behind a TLS relay with a throwaway self-signed certificate (``integration``).
- A CAS login that differs from the staff account's username only in case (Apereo CAS hands the login over as typed)
  is the staff member's, with one ENT identity.
- Two « Ajouter depuis l'annuaire » of the same person at the same moment: the second says the account exists, as
  when it existed before (no IntegrityError, no 500).
"""

import contextlib
import datetime
import select
import socket
import ssl
import threading

import pytest
from allauth.socialaccount.models import SocialAccount
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.db import connection, connections
from django.db.models import QuerySet
from django.urls import reverse

from accounts import directory
from accounts.models import User
from accounts.tests.ent import cas_return
from accounts.tests.factories import StaffFactory
from accounts.tests.ldap_peer import BIND_PASSWORD
from ecandidat import connectivity
from ecandidat.connectivity import Outcome, run_check
from ecandidat.exceptions import BusinessRuleError
from ecandidat.tests.plugins.services import TCPProxy

FROM_DIRECTORY = "/gestion/accounts/user/from-directory/"
DOWN_FR = "L’annuaire ne répond pas. Veuillez réessayer plus tard."
TLS_FAILED_FR = "Échec de la connexion sécurisée (TLS) : certificat ou protocole."
START_TLS_OID = b"1.3.6.1.4.1.1466.20037"
SOPHIE = directory.DirectoryPerson(
    uid="sophie.gestion",
    email="sophie.gestion@univ-perp.fr",
    first_name="Sophie",
    last_name="GESTION",
    affiliations=("staff", "employee", "member"),
)


# --- a TLS relay in front of the OpenLDAP peer ---


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A throwaway self-signed certificate for ``localhost`` (no IP address): (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("ldap-tls")
    cert_file, key_file = folder / "localhost.pem", folder / "localhost.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def _read_message(sock) -> bytes:
    """One LDAP message (BER: a SEQUENCE, its length in short or long form)."""

    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    head = exactly(2)
    length = head[1]
    if length & 0x80:
        size = exactly(length & 0x7F)
        return head + size + exactly(int.from_bytes(size, "big"))
    return head + exactly(length)


def _start_tls_answer(request: bytes) -> bytes:
    """The directory's "success" to an LDAP StartTLS extended request (RFC 4511 4.14), with its message id."""
    if request[0] != 0x30 or START_TLS_OID not in request:
        raise ConnectionError(f"not a StartTLS request: {request!r}")  # a client that speaks in the clear
    start = 2 + (request[1] & 0x7F if request[1] & 0x80 else 0)
    message_id = request[start : start + 2 + request[start + 1]]  # the INTEGER, as it came
    body = b"\x0a\x01\x00" + b"\x04\x00" + b"\x04\x00" + b"\x8a" + bytes([len(START_TLS_OID)]) + START_TLS_OID
    message = message_id + b"\x78" + bytes([len(body)]) + body
    return b"\x30" + bytes([len(message)]) + message


class TLSRelay(TCPProxy):
    """A TLS server on 127.0.0.1 (``ldaps://``, or with ``start_tls`` an ``ldap://`` server that answers StartTLS)
    whose certificate is ``certificate``, relaying to the OpenLDAP peer in the clear: a man in the middle. ``heard``
    is what clients sent through the TLS it offered."""

    def __init__(self, target: tuple[str, int], certificate: tuple[str, str], *, start_tls: bool = False):
        super().__init__(*target)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*certificate)
        self.start_tls = start_tls
        self.heard = b""

    def address(self, host: str = "localhost") -> str:
        return f"{'ldap' if self.start_tls else 'ldaps'}://{host}:{self.port}"

    def _accept(self, listener):
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # closed
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client):
        with self._lock:
            self._sockets.add(client)
        try:
            client.settimeout(5)
            if self.start_tls:
                client.sendall(_start_tls_answer(_read_message(client)))
            client = self.context.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.target, timeout=5)
        except Exception:  # the client refused the certificate (ssl.SSLError), or close(): any error ends the peer
            client.close()
            return
        with self._lock:
            self._sockets.update((client, upstream))
        try:
            self._relay(client, upstream)
        except Exception:  # close() cut the sockets: select() sees fd -1, read()/pending() AttributeError (no _sslobj)
            pass
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()

    def _relay(self, client, upstream):
        while True:
            readable, _, _ = select.select([client, upstream], [], [], 10)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                while source is client and client.pending():
                    data += client.recv(client.pending())
                if not data:
                    return
                if source is client:
                    self.heard += data
                (upstream if source is client else client).sendall(data)


def _relay(ldap, certificate, **options):
    host, port = ldap.removeprefix("ldap://").rsplit(":", 1)
    relay = TLSRelay((host, int(port)), certificate, **options)
    relay.open()
    return relay


@pytest.fixture
def ldaps(ldap, certificate):
    relay = _relay(ldap, certificate)
    try:
        yield relay
    finally:
        relay.close()


@pytest.fixture
def start_tls(ldap, certificate, settings):
    settings.LDAP_START_TLS = True
    relay = _relay(ldap, certificate, start_tls=True)
    try:
        yield relay
    finally:
        relay.close()


@pytest.mark.integration
@pytest.mark.django_db
class TestTheDirectorysCertificateIsChecked:
    def test_an_untrusted_certificate_is_an_unavailable_directory_and_hears_no_password(self, ldaps, settings):
        settings.LDAP_URL = ldaps.address()

        with pytest.raises(directory.DirectoryUnavailable):
            directory.find_person(uid="sophie.gestion")
        with pytest.raises(directory.DirectoryUnavailable):
            directory.look_up(["sophie.gestion"])

        assert BIND_PASSWORD.encode() not in ldaps.heard
        assert ldaps.heard == b""

    def test_the_certificate_of_ldap_ca_file_is_trusted(self, ldaps, settings, certificate):
        settings.LDAP_URL = ldaps.address()
        settings.LDAP_CA_FILE = certificate[0]

        assert directory.find_person(uid="sophie.gestion") == SOPHIE
        assert ldaps.heard  # through the relay, under its TLS

    def test_the_certificate_must_name_the_directory(self, ldaps, settings, certificate):
        settings.LDAP_URL = ldaps.address("127.0.0.1")  # the certificate says localhost only
        settings.LDAP_CA_FILE = certificate[0]

        with pytest.raises(directory.DirectoryUnavailable):
            directory.find_person(uid="sophie.gestion")
        assert BIND_PASSWORD.encode() not in ldaps.heard

    def test_a_missing_ca_file_is_an_unavailable_directory(self, ldaps, settings, tmp_path):
        settings.LDAP_URL = ldaps.address()
        settings.LDAP_CA_FILE = str(tmp_path / "missing.pem")

        with pytest.raises(directory.DirectoryUnavailable):
            directory.find_person(uid="sophie.gestion")

    def test_the_back_office_says_the_directory_does_not_answer(
        self, ldaps, settings, client, central_manager, django_assert_num_queries
    ):
        settings.LDAP_URL = ldaps.address()
        client.force_login(central_manager)

        # The session, the user, their scope, the page's permissions (2), and the request's savepoint (2): nothing
        # written, the directory never trusted.
        with django_assert_num_queries(7):
            response = client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion"}, language="fr")

        assert response.status_code == 200
        assert DOWN_FR in response.content.decode()
        assert not User.objects.filter(username="sophie.gestion").exists()

    def test_an_ent_login_changes_nothing(self, ldaps, settings):
        settings.LDAP_URL = ldaps.address()
        staff = StaffFactory(username="sophie.gestion", email="kept@univ-perp.fr", first_name="Kept")

        assert directory.staff_for_login("sophie.gestion") == staff

        staff.refresh_from_db()
        assert (staff.is_active, staff.email, staff.first_name) == (True, "kept@univ-perp.fr", "Kept")

    def test_the_connection_test_reports_the_tls_failure_then_passes_with_the_ca_file(
        self, ldaps, settings, certificate
    ):
        settings.LDAP_URL = ldaps.address()
        check = connectivity.get("ldap")

        failed = run_check(check)
        settings.LDAP_CA_FILE = certificate[0]
        passed = run_check(check)

        assert (failed.outcome, str(failed.message)) == (Outcome.FAILED, TLS_FAILED_FR)
        assert BIND_PASSWORD not in failed.detail
        assert passed.outcome == Outcome.OK, passed

    def test_start_tls_checks_the_certificate_too(self, start_tls, settings, certificate):
        settings.LDAP_URL = start_tls.address()

        with pytest.raises(directory.DirectoryUnavailable):
            directory.find_person(uid="sophie.gestion")
        assert start_tls.heard == b""

        settings.LDAP_CA_FILE = certificate[0]
        assert directory.find_person(uid="sophie.gestion") == SOPHIE
        assert run_check(connectivity.get("ldap")).outcome == Outcome.OK

    def test_start_tls_never_falls_back_to_the_clear(self, ldap, settings):
        settings.LDAP_START_TLS = True  # the OpenLDAP peer has no TLS: it refuses StartTLS

        with pytest.raises(directory.DirectoryUnavailable):
            directory.find_person(uid="sophie.gestion")
        assert run_check(connectivity.get("ldap")).outcome == Outcome.FAILED


# --- the CAS login as typed ---


@pytest.fixture
def staff(db):
    user = StaffFactory(username="sophie.gestion", email="sophie.gestion@univ-perp.fr", from_directory=True)
    user.set_unusable_password()
    user.save()
    return user


def test_a_login_in_another_case_is_the_staff_members(staff):
    assert directory.staff_for_login("Sophie.Gestion") == staff
    assert directory.staff_for_login("SOPHIE.GESTION") == staff


def test_two_staff_accounts_differing_in_case_the_exact_one_or_none(staff):
    other = StaffFactory(username="Sophie.Gestion")

    assert directory.staff_for_login("sophie.gestion") == staff
    assert directory.staff_for_login("Sophie.Gestion") == other
    assert directory.staff_for_login("SOPHIE.GESTION") is None


def test_a_cas_login_typed_in_another_case_logs_the_staff_member_in_with_one_identity(
    client, cas_ent, staff, django_assert_num_queries
):
    attributes = {"mail": "sophie.gestion@univ-perp.fr", "givenName": "Sophie", "sn": "GESTION"}
    cas_ent.return_value = ("Sophie.Gestion", attributes, None)

    # As the first CAS staff login of test_ent_maintenance (no directory configured here): the session; the staff
    # account (one query, whatever the case); the identity linked (read, insert in its savepoint); allauth's lookup,
    # the login and the history; the session's old row read and deleted at the login (2).
    back = cas_return(client, "ST-1")
    with django_assert_num_queries(32):
        response = client.get(reverse("accounts:cas_callback"), back)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
    client.logout()
    cas_ent.return_value = ("SOPHIE.GESTION", attributes, None)
    client.get(reverse("accounts:cas_callback"), cas_return(client, "ST-2"))

    assert client.session["_auth_user_id"] == str(staff.pk)
    identity = SocialAccount.objects.get()
    assert (identity.provider, identity.uid, identity.user_id) == ("ent", "sophie.gestion", staff.pk)


def test_link_ent_identity_names_the_cas_identity_after_the_account(staff):
    identity = directory.link_ent_identity(provider="ent", uid=None, login="Sophie.Gestion")

    assert identity is not None
    assert (identity.uid, identity.user_id) == ("sophie.gestion", staff.pk)


# --- two « Ajouter depuis l'annuaire » at once ---


def _the_check_misses_the_other_account(mocker):
    """The service's existence check answers before the other request's account is committed (it is there when the
    insert comes): the race, on any database."""
    real = QuerySet.exists
    missed: list[QuerySet] = []

    def exists(queryset):
        if queryset.model is User and not missed:
            missed.append(queryset)
            return False
        return real(queryset)

    mocker.patch.object(QuerySet, "exists", exists)
    return missed


def test_the_same_person_added_at_the_same_moment_is_an_existing_account(db, mocker, settings):
    settings.LDAP_URL = "ldap://directory.invalid"
    mocker.patch.object(directory, "find_person", return_value=SOPHIE)
    other = StaffFactory(username="sophie.gestion", email="theirs@univ-perp.fr")
    addresses = list(other.emailaddress_set.values_list("email", flat=True))
    missed = _the_check_misses_the_other_account(mocker)

    with pytest.raises(BusinessRuleError, match="exists already"):
        directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)

    assert missed
    assert list(User.objects.filter(username="sophie.gestion")) == [other]
    assert list(other.emailaddress_set.values_list("email", flat=True)) == addresses


def test_the_back_office_says_the_account_exists(client, central_manager, mocker, settings, django_assert_num_queries):
    settings.LDAP_URL = "ldap://directory.invalid"
    mocker.patch.object(directory, "find_person", return_value=SOPHIE)
    StaffFactory(username="sophie.gestion")
    client.force_login(central_manager)
    _the_check_misses_the_other_account(mocker)

    # The session, the user, their scope; the (missed) check answers without a query; no candidate's ENT identity; the
    # insert refused, rolled back with its savepoint (4); the check again; the page's permissions (2); and the
    # request's savepoint (2).
    with django_assert_num_queries(13):
        response = client.post(FROM_DIRECTORY, {"identifier": "sophie.gestion"}, language="fr")

    assert response.status_code == 200
    assert "Ce compte existe déjà." in response.content.decode()
    assert User.objects.filter(username="sophie.gestion").count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_central_managers_add_the_same_person_at_once(ldap, mocker):
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    barrier = threading.Barrier(2, timeout=10)
    real = QuerySet.exists
    checked = threading.local()

    def exists(queryset):
        answer = real(queryset)
        if queryset.model is User and not getattr(checked, "done", False):
            checked.done = True
            barrier.wait()  # both have checked before either inserts
        return answer

    mocker.patch.object(QuerySet, "exists", exists)
    outcomes = []

    def add():
        try:
            directory.create_staff_from_directory(identifier="sophie.gestion", actor=None)
            outcomes.append("ok")
        except BusinessRuleError as error:
            outcomes.append(str(error))
        except Exception as error:  # noqa: BLE001 (the test reports what went wrong)
            outcomes.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["An account 'sophie.gestion' exists already.", "ok"]
    assert User.objects.filter(username="sophie.gestion").count() == 1
