"""allauth's OpenID Connect callback URL (``/accounts/oidc/<provider_id>/login/callback/``, the redirect URI
registered with the ENT), served by ``accounts.oidc.callback``: included before allauth's URLs, so it answers first."""

from django.urls import path

from accounts import oidc

urlpatterns = [path("<str:provider_id>/login/callback/", oidc.callback, name="ent_oidc_callback")]
