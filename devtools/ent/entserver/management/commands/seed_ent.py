import os

from allauth.account.models import EmailAddress
from allauth.idp.oidc.models import Client
from django.core.management.base import BaseCommand
from django.db import transaction

from entserver.models import User
from entserver.students import DEMO_PASSWORD, STAFF, STAFF_EMAIL_DOMAIN, STUDENTS

CLIENT_ID = "ecandidat"
CALLBACK_PATH = "/accounts/oidc/ent/login/callback/"
BACKCHANNEL_LOGOUT_PATH = "/accounts/oidc/ent/backchannel-logout/"
DEFAULT_REDIRECT_URIS = [f"http://127.0.0.1:8000{CALLBACK_PATH}", f"http://localhost:8000{CALLBACK_PATH}"]


def post_logout_redirect_uris(redirect_uris: list[str]) -> list[str]:
    """Where ecandidat comes back after logging out of the ENT (RP-initiated logout): the home page of each
    ecandidat the redirect URIs name (loopback ones match on any port, as the redirect URIs do)."""
    return [uri.removesuffix(CALLBACK_PATH) + "/" for uri in redirect_uris if uri.endswith(CALLBACK_PATH)]


def backchannel_logout_uri(redirect_uris: list[str]) -> str:
    """Where the ENT posts its logout tokens (Back-Channel Logout 1.0): ecandidat's endpoint beside the first redirect
    URI ending in the callback path; one URI per client, as the specification has it. A loopback one is posted to on
    the port of the redirect URI the client logged in with (entserver/backchannel.py)."""
    bases = [uri.removesuffix(CALLBACK_PATH) for uri in redirect_uris if uri.endswith(CALLBACK_PATH)]
    return bases[0] + BACKCHANNEL_LOGOUT_PATH if bases else ""


class Command(BaseCommand):
    help = "Create or refresh the ecandidat OIDC client and the demo students (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            dest="redirect_uris",
            help="Extra redirect URI to allow for the ecandidat client (repeatable); "
            "ENT_EXTRA_REDIRECT_URIS (comma-separated) adds more.",
        )
        parser.add_argument(
            "--backchannel-logout-uri",
            default=None,
            dest="logout_uri",
            help="The client's back-channel logout URI (default: ecandidat's, beside the first redirect URI); "
            "an empty value registers none (the ENT then sends no logout token).",
        )

    @transaction.atomic
    def handle(self, *args, redirect_uris, logout_uri, **options):
        extra_from_env = [uri.strip() for uri in os.environ.get("ENT_EXTRA_REDIRECT_URIS", "").split(",")]
        uris = list(dict.fromkeys([*DEFAULT_REDIRECT_URIS, *redirect_uris, *filter(None, extra_from_env)]))
        if logout_uri is None:
            logout_uri = backchannel_logout_uri(uris)
        self._seed_client(uris, logout_uri)
        people = [(s, s.email) for s in STUDENTS] + [(s, f"{s.username}@{STAFF_EMAIL_DOMAIN}") for s in STAFF]
        for student, email in people:
            user, _ = User.objects.update_or_create(
                username=student.username,
                defaults={
                    "student_number": student.student_number,
                    "first_name": student.first_name,
                    "last_name": student.last_name,
                    "email": email,
                    "is_active": True,
                },
            )
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            # The OIDC "email" claim comes from allauth's EmailAddress table, not from User.email.
            EmailAddress.objects.filter(user=user).exclude(email=email).delete()
            EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        self.stdout.write(f"Client {CLIENT_ID!r} redirect URIs: {', '.join(uris)}")
        self.stdout.write(
            f"Client {CLIENT_ID!r} post-logout redirect URIs: {', '.join(post_logout_redirect_uris(uris))}"
        )
        self.stdout.write(f"Client {CLIENT_ID!r} back-channel logout URI: {logout_uri or '(none)'}")
        self.stdout.write(f"Students: {', '.join(s.username for s in STUDENTS)} (password {DEMO_PASSWORD!r})")

    def _seed_client(self, redirect_uris: list[str], logout_uri: str) -> None:
        client = Client.objects.filter(id=CLIENT_ID).first() or Client(id=CLIENT_ID)
        client.name = "eCandidat"
        client.type = Client.Type.CONFIDENTIAL
        client.set_secret(os.environ.get("ENT_CLIENT_SECRET", "dev-ent-secret"))
        client.set_scopes(["openid", "profile", "email"])
        client.set_default_scopes(["openid", "profile", "email"])
        client.grant_types = Client.GrantType.AUTHORIZATION_CODE
        client.response_types = Client.ResponseType.CODE
        client.set_redirect_uris(redirect_uris)
        client.set_post_logout_redirect_uris(post_logout_redirect_uris(redirect_uris))
        # Registration metadata (Back-Channel Logout 1.0, section 2.2), beside allauth's post_logout_redirect_uris.
        metadata = client.data["client_metadata"]
        metadata.pop("backchannel_logout_uri", None)
        if logout_uri:
            metadata["backchannel_logout_uri"] = logout_uri
            metadata["backchannel_logout_session_required"] = True
        client.skip_consent = True  # the university's own application: no consent screen
        client.save()
