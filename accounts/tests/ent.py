"""The ENT's allauth configuration in tests: the OpenID Connect app "ent", as ``ecandidat/settings/base.py`` declares
it, pointed at a test server."""


def ent_providers(server_url: str, *, client_id: str = "ecandidat", secret: str = "s", pkce: bool = False) -> dict:
    """``SOCIALACCOUNT_PROVIDERS`` with the "ent" app at ``server_url`` (``pkce``: as production, which the
    development ENT checks)."""
    app_settings: dict = {"server_url": server_url}
    provider: dict = {}
    if pkce:
        app_settings["oauth_pkce_enabled"] = True
        provider["OAUTH_PKCE_ENABLED"] = True
    app = {"provider_id": "ent", "name": "ENT", "client_id": client_id, "secret": secret, "settings": app_settings}
    return {"openid_connect": {**provider, "APPS": [app]}}
