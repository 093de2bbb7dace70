"""Local development: `make run`. Defaults for secrets live here, never in base."""

import os

os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-never-use-in-production")
os.environ.setdefault("DEBUG", "1")
# The development ENT of `make run` (devtools/ent) listens on ENT_PORT (the Makefile passes it on).
# It speaks both protocols: ENT_PROTOCOL=cas make run uses its CAS endpoints under /cas.
_ent_path = "/cas" if os.environ.get("ENT_PROTOCOL") == "cas" else ""
os.environ.setdefault("ENT_SERVER_URL", f"http://127.0.0.1:{os.environ.get('ENT_PORT') or '8001'}{_ent_path}")
os.environ.setdefault("ENT_CLIENT_SECRET", "dev-ent-secret")
# The links of the mails (SITE_URL: "Votre lettre de décision", the recap) point to the server `make run` starts,
# on PORT (the Makefile passes it on), at the address it prints.
os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}")
# The demo staff logins work with a password alone; STAFF_MFA_REQUIRED=1 make run to try TOTP (README).
os.environ.setdefault("STAFF_MFA_REQUIRED", "0")
# STUDENT_RECORDS_BACKEND=pegase make run: the local Pégase peer (devtools/pegase, started by the Makefile) on
# PEGASE_PORT, with its development credentials.
if os.environ.get("STUDENT_RECORDS_BACKEND") == "pegase":
    _pegase = f"http://127.0.0.1:{os.environ.get('PEGASE_PORT') or '8766'}"
    for _name, _value in {
        "PEGASE_AUTH_URL": f"{_pegase}/cas/v1/tickets",
        "PEGASE_USERNAME": "ecandidat",
        "PEGASE_PASSWORD": "pegase-dev-password",
        "PEGASE_ETABLISSEMENT": "ETAB00",
        "PEGASE_REF_URL": f"{_pegase}/api/v1/ref/",
        "PEGASE_IDT_URL": f"{_pegase}/api/idt/v1/",
        "PEGASE_INS_URL": f"{_pegase}/api/ins/ext/v2/",
        "PEGASE_COC_URL": f"{_pegase}/api/coc/publication/v2/",
    }.items():
        os.environ.setdefault(_name, _value)
# No clamd on a newcomer's machine, said explicitly (production refuses an unset CLAMD_ADDRESS, ecandidat/checks.py);
# CLAMD_ADDRESS=tcp://127.0.0.1:3310 make run uses devtools/clamd.
os.environ.setdefault("CLAMD_ADDRESS", "none")

from ecandidat.settings.base import *  # noqa: E402, F403
