"""Every write of the applications app goes through these services (house-style §2).

``dossier``: the candidate's dossier. ``candidature``: the candidate's side of an application (apply, transmit,
cancel, confirm, withdraw). ``staff``: the back office's side (dossier statuses, decisions, waiting lists).
"""

from applications.services.dossier import *  # noqa: F403  (the dossier services predate the split)
from applications.services.dossier import ROW_MODELS, student_number_of  # noqa: F401
