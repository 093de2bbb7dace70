"""The applications app in the back office: the candidate's dossier (``dossier``), the applications list and its
operations (``candidatures``, with ``listing``: counters, tags, saved filters), one application's reading page
(``review``), the commission pack (``packs``), tags (``tags``), the staff home (``home``) and the statistics
dashboard (``dashboard``)."""

from applications.admin import candidatures, dossier, home, tags  # noqa: F401  (registers the ModelAdmins, the home)
