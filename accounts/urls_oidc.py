"""allauth's OpenID Connect callback URL (``/accounts/oidc/<provider_id>/login/callback/``, the redirect URI
registered with the ENT), served by ``accounts.oidc.callback``: included before allauth's URLs, so it answers first.
Beside it, the ENT's back-channel logout (``backchannel_logout_uri``, ``accounts.oidc_backchannel``)."""

from django.urls import path

from accounts import oidc, oidc_backchannel

urlpatterns = [
    path("ent/backchannel-logout/", oidc_backchannel.backchannel_logout, name="ent_oidc_backchannel_logout"),
    path("<str:provider_id>/login/callback/", oidc.callback, name="ent_oidc_callback"),
]
