"""The applications app in the back office: the candidate's dossier (``dossier``), the applications list
(``candidatures``: the ModelAdmin's wiring; ``filters``; ``listing``: counters, tags, saved filters; ``exports``),
the candidates' accounts (``accounts``), the operations on applications (``operations``), one application's
reading page (``review``) and what staff do from it (``review_actions``), the commission pack (``packs``), tags
(``tags``), the staff home (``home``) and the statistics dashboard (``dashboard``), the SIS's reference lists
(``reference``), the SVA alert levels (``sva``)."""

from applications.admin import accounts, candidatures, dossier, home, reference, sva, tags  # noqa: F401  (registers the ModelAdmins, the home)
from applications.opi import admin as opi_admin  # noqa: F401  (registers the OPI screen)
