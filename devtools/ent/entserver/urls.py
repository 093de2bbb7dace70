from django.contrib import admin
from django.urls import include, path

from entserver import backchannel, cas, views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    # CAS 3.0 (entserver/cas.py), beside OpenID Connect: ecandidat with ENT_PROTOCOL=cas uses /cas as its server.
    path("cas/login", cas.login, name="cas_login"),
    path("cas/p3/serviceValidate", cas.service_validate, name="cas_service_validate"),
    path("cas/logout", cas.logout, name="cas_logout"),
    path("accounts/", include("allauth.urls")),
    # allauth's authorization endpoint, which also ties the client to the ENT session for back-channel logout.
    path("identity/o/authorize", backchannel.authorize, name="oidc_authorize"),
    # Discovery at /.well-known/openid-configuration, endpoints under /identity/o/.
    path("", include("allauth.idp.urls")),
]
