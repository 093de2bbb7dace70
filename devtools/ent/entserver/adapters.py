from collections.abc import Iterable
from typing import Any, Literal

from allauth.account.adapter import DefaultAccountAdapter
from allauth.idp.oidc.adapter import DefaultOIDCAdapter
from django.contrib.auth import get_user_model

from entserver import backchannel


class EntAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Accounts come from the seed command (in real life, from the university directory).
        return False


class EntOIDCAdapter(DefaultOIDCAdapter):
    """Speaks like a university ENT: `sub` is the login (uid; `preferred_username` and `uid` too), the student number
    travels as `supannEtuId`."""

    def get_user_sub(self, client, user) -> str:
        # The login, not the primary key, so that `sub` survives a reset of the ENT database.
        return user.get_username()

    def populate_server_metadata(self, data: dict) -> None:
        # Back-Channel Logout 1.0 (entserver/backchannel.py): logout tokens carry sid, and ID tokens do too.
        data["backchannel_logout_supported"] = True
        data["backchannel_logout_session_supported"] = True

    def populate_id_token(self, id_token: dict[str, Any], client, scopes: Iterable[str], **kwargs: Any) -> None:
        # The ENT session the code was handed out in (the token request carries the code): the logout token's sid.
        code = self.request.POST.get("code", "") if self.request is not None else ""
        if code and (sid := backchannel.sid_for_code(client.id, code)):
            id_token["sid"] = sid

    def get_user_by_sub(self, client, sub: str):
        return get_user_model().objects.filter(username=sub, is_active=True).first()

    def get_claims(
        self,
        purpose: Literal["id_token", "userinfo"],
        user,
        client,
        scopes: Iterable[str],
        email: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        claims = super().get_claims(purpose, user, client, scopes, email=email, **kwargs)
        if "profile" in scopes:
            # The directory uid under its supann/eduPerson name too (an ENT may release it as ``uid`` rather than map
            # it to ``preferred_username``): ecandidat's ENT_STAFF_UID_CLAIM can name either.
            claims["uid"] = user.get_username()
        if "profile" in scopes and user.student_number:
            claims["supannEtuId"] = user.student_number
        return claims
