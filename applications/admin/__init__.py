"""The applications app in the back office: the candidate's dossier (``dossier``), the applications list, one
application's page and its operations (``candidatures``), and the statistics dashboard (``dashboard``)."""

from applications.admin import candidatures, dossier, home, tags  # noqa: F401  (registers the ModelAdmins, the home)
