from django.contrib import admin
from django.urls import include, path

from entserver import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Discovery at /.well-known/openid-configuration, endpoints under /identity/o/.
    path("", include("allauth.idp.urls")),
]
