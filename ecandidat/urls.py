from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from ecandidat import mailbox, request_id, views

handler400 = views.bad_request
# The 500 page with the request's reference in the log (« Référence de l'erreur »), rendered without the database.
handler500 = request_id.server_error

urlpatterns = [
    path("", views.home, name="home"),
    path("assistance/", views.assistance, name="assistance"),
    path("healthz", views.healthz, name="healthz"),
    path("donnees-personnelles/", views.personal_data, name="personal_data"),
    path("accessibilite/", views.accessibility, name="accessibility"),
    path("creer-un-compte/", views.signup_choice, name="signup_choice"),
    path("mentions-legales/", views.legal_notice, name="legal_notice"),
    path("theme.css", views.theme_css, name="theme_css"),
    path("session/prolonger/", views.session_keepalive, name="session_keepalive"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("offre-de-formation/", include("offers.urls")),
    path("candidat/", include("applications.urls")),
    path("pieces/", include("applications.urls_pieces")),
    path("compte/", include("accounts.urls")),
    # allauth's own address management would let a candidate add addresses outside the campaign rules: the
    # candidate changes their address through accounts:email_change instead.
    path("accounts/email/", RedirectView.as_view(pattern_name="accounts:email_change"), name="account_email"),
    # allauth's "set a password" page is reached through ours (accounts.views.password_set: ENT candidates only).
    path(
        "accounts/password/set/",
        RedirectView.as_view(pattern_name="accounts:password_set"),
        name="account_set_password",
    ),
    # allauth's OpenID Connect callback, which also keeps what logging out of the ENT needs (accounts/oidc.py).
    path("accounts/oidc/", include("accounts.urls_oidc")),
    path("accounts/", include("allauth.urls")),
    path("gestion/", admin.site.urls),
]

if mailbox.is_served():
    # The demonstration mailbox: the outbox, readable by a newcomer who has no SMTP server (DEBUG on, no mail leaving
    # the machine: never with EMAIL_URL, whatever DEBUG says).
    urlpatterns += [path("boite-mail/", include("ecandidat.mailbox_urls"))]
