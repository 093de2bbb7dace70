"""The project's URLs plus the dossier under candidat/, until ecandidat/urls.py mounts applications.urls."""

from django.urls import include, path

from ecandidat.urls import urlpatterns as project_urlpatterns

_mounted = any(getattr(p, "namespace", None) == "applications" for p in project_urlpatterns)
urlpatterns = list(project_urlpatterns) + ([] if _mounted else [path("candidat/", include("applications.urls"))])
