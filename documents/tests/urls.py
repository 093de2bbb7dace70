"""The project's URLs plus the documents views under pieces/, until ecandidat/urls.py mounts documents.urls."""

from django.urls import include, path

from ecandidat.urls import urlpatterns as project_urlpatterns

_mounted = {getattr(p, "namespace", None) for p in project_urlpatterns}
urlpatterns = list(project_urlpatterns)
if "documents" not in _mounted:
    urlpatterns.append(path("pieces/", include("documents.urls")))
if "applications" not in _mounted:
    urlpatterns.append(path("candidat/", include("applications.urls")))
