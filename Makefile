# ecandidat — the two commands a newcomer needs are `make run` and `make test`.
# Everything runs inside .venv, created with the first Python >= 3.12 found (override: make PYTHON=/path/to/python3).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
PORT ?= 8000
ENT_PORT ?= 8001
PEGASE_PORT ?= 8766
MANAGE := DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-ecandidat.settings.dev} $(VPY) manage.py
PYTEST_WORKERS ?= auto

.PHONY: help venv install run pegase worker beat test test-unit test-peers quality fix lock clean bench bench-smoke

help:
	@echo "make run      install, migrate, load the demo data and serve on http://127.0.0.1:$(PORT) (PORT=...)"
	@echo "make test     the whole suite (browser and integration tests included when their peers are configured)"
	@echo "make pegase   the local Pégase peer alone on 127.0.0.1:$(PEGASE_PORT) (STUDENT_RECORDS_BACKEND=pegase make run starts it too)"
	@echo "make worker   a Celery worker (needs REDIS_URL)"
	@echo "make beat     Celery beat: the mail sweeper every minute (needs REDIS_URL)"
	@echo "make quality  ruff format --check, ruff check, mypy, lint-imports (one-way layers), makemigrations --check"
	@echo "make fix      ruff format + ruff check --fix"
	@echo "make bench    the deadline-rush benchmark vs a bare Django project (PostgreSQL + Redis on 127.0.0.1; ~15 min)"
	@echo "make lock     recompile requirements.txt and requirements-dev.txt from the .in files"
	@echo "make clean    remove .venv, caches and the local SQLite database"

# --- Interpreter and virtualenv ---------------------------------------------------------------------------
# Candidates are tried by running them: pyenv shims exist on PATH but fail unless a version is selected.
$(VPY):
	@py=""; \
	proot=$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv"); \
	for c in $(PYTHON) python3.13 python3.12 python3 \
	         $$(ls -d $$proot/versions/3.13*/bin/python3 $$proot/versions/3.12*/bin/python3 2>/dev/null | sort -rV) \
	         /usr/local/bin/python3.13 /usr/local/bin/python3.12 /usr/bin/python3.13 /usr/bin/python3.12; do \
	    if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then py=$$c; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
	    echo "No Python >= 3.12 found (tried PATH and $$proot/versions)." >&2; \
	    echo "Install one, e.g. 'apt-get install python3.12 python3.12-venv', or 'pyenv install 3.13'," >&2; \
	    echo "or point to it: make PYTHON=/path/to/python3.12 ..." >&2; \
	    exit 1; \
	fi; \
	echo "Creating $(VENV) with $$py ($$("$$py" -c 'import sys; print(sys.version.split()[0])'))"; \
	"$$py" -m venv $(VENV)

venv: $(VPY)

$(STAMP): requirements.txt requirements-dev.txt | $(VPY)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(STAMP)

# --- Running ----------------------------------------------------------------------------------------------
# The development ENT (devtools/ent/run.sh) runs in the background and is stopped with runserver (trap); so does the
# local Pégase peer (devtools/pegase) with STUDENT_RECORDS_BACKEND=pegase, whose reference lists are loaded first. The
# peer answers before the demo is seeded: the demo's OPI files are produced only once Pégase lists the campaign's code.
run: install
	@$(VPY) devtools/ports.py free $(PORT) $(ENT_PORT) $$([ "$$STUDENT_RECORDS_BACKEND" = pegase ] && echo $(PEGASE_PORT))
	@$(MANAGE) migrate --noinput
	@mkdir -p var
	@ent_pid=""; pegase_pid=""; \
	if [ -x devtools/ent/run.sh ]; then \
	    PYTHON=$(abspath $(VPY)) ENT_PORT=$(ENT_PORT) devtools/ent/run.sh >var/ent.log 2>&1 & ent_pid=$$!; \
	fi; \
	if [ "$$STUDENT_RECORDS_BACKEND" = pegase ]; then \
	    $(VPY) devtools/pegase/server.py --port $(PEGASE_PORT) >var/pegase.log 2>&1 & pegase_pid=$$!; \
	fi; \
	trap 'for p in $$ent_pid $$pegase_pid; do kill $$p 2>/dev/null; done; wait 2>/dev/null' EXIT; \
	if [ -n "$$pegase_pid" ]; then \
	    for _ in $$(seq 1 20); do grep -q "^LISTENING" var/pegase.log 2>/dev/null && break; sleep 0.5; done; \
	fi; \
	PEGASE_PORT=$(PEGASE_PORT) PORT=$(PORT) $(MANAGE) seed_demo | tee var/seed_demo.txt; \
	if [ -n "$$pegase_pid" ]; then \
	    PEGASE_PORT=$(PEGASE_PORT) $(MANAGE) refresh_reference_data; \
	fi; \
	trap 'exit 130' INT TERM; \
	echo; \
	echo "  ecandidat:            http://127.0.0.1:$(PORT)/"; \
	echo "  Offre de formation:   http://127.0.0.1:$(PORT)/offre-de-formation/"; \
	echo "  Back office:          http://127.0.0.1:$(PORT)/gestion/"; \
	if [ -n "$$ent_pid" ]; then \
	    if $(VPY) devtools/ports.py wait 30 $(ENT_PORT) && kill -0 $$ent_pid 2>/dev/null; then \
	        echo "  Development ENT:      http://127.0.0.1:$(ENT_PORT)/ (log: var/ent.log)"; \
	        grep -h "^Students:" var/ent.log | sed 's/^/  ENT demo logins:      /'; \
	    else \
	        echo "  Development ENT:      did not start (see var/ent.log); « Se connecter avec l'ENT » will fail"; \
	    fi; \
	fi; \
	if [ -n "$$pegase_pid" ]; then \
	    echo "  Pégase (local peer):  http://127.0.0.1:$(PEGASE_PORT)/ (log: var/pegase.log; students 21900001-21900003)"; \
	fi; \
	echo "  Demo logins:          see the seed_demo lines above (also saved in var/seed_demo.txt)"; \
	echo "  E-mails are printed on this console (no EMAIL_URL set)."; \
	echo; \
	PORT=$(PORT) PEGASE_PORT=$(PEGASE_PORT) ENT_PORT=$(ENT_PORT) $(MANAGE) runserver 127.0.0.1:$(PORT)

# The local Pégase peer in the foreground (Ctrl-C stops it), with its development credentials.
pegase: install
	@echo "Pégase peer on http://127.0.0.1:$(PEGASE_PORT): STUDENT_RECORDS_BACKEND=pegase PEGASE_PORT=$(PEGASE_PORT) make run"
	$(VPY) devtools/pegase/server.py --port $(PEGASE_PORT)

# One worker for both queues in development: CELERY_QUEUE (mails, scans, sweepers) and CELERY_QUEUE-long (packs,
# exports, releases; CELERY_TASK_ROUTES). Production runs one worker each (deploy/ecandidat-worker*.service), so that a
# pack never holds a slot a mail waits for.
worker: install
	@test -n "$$REDIS_URL" || { echo "make worker needs REDIS_URL (e.g. redis://127.0.0.1:6379/0)." >&2; exit 1; }
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-ecandidat.settings.dev} $(VENV)/bin/celery -A ecandidat worker -l info \
		-Q $${CELERY_QUEUE:-celery},$${CELERY_QUEUE:-celery}-long

beat: install
	@test -n "$$REDIS_URL" || { echo "make beat needs REDIS_URL; without Redis run: $(MANAGE) send_pending_mails" >&2; exit 1; }
	DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-ecandidat.settings.dev} $(VENV)/bin/celery -A ecandidat beat -l info -s var/celerybeat-schedule

# --- Tests ------------------------------------------------------------------------------------------------
# Two steps. The unit suite runs in parallel (xdist). Browser and integration tests run after it in one
# process: they start Chromium, a live server, a Celery worker and an SMTP server, which gain nothing from
# being split across 2 cores and would contend for the same ports, database and browser.
# Integration tests need PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): they are selected only when both are
# set, and the selection is printed; clamd tests likewise need CLAMD_TEST_ADDRESS. CI always sets all of them. Exit code 5 (nothing collected) is a failure.
test: install
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-peers

test-unit: install
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) -m "not browser and not integration and not clamd" $(PYTEST_ARGS)

test-peers: install
	@if [ -n "$$REDIS_URL" ] && [[ "$$DATABASE_URL" == postgres* ]]; then \
	    marker="browser or integration"; \
	    echo "== Browser and integration tests (DATABASE_URL on PostgreSQL, REDIS_URL set)"; \
	else \
	    marker="browser and not integration"; \
	    echo "== Browser tests only: integration tests NOT selected (they need REDIS_URL and a PostgreSQL DATABASE_URL)"; \
	fi; \
	if [ -n "$$CLAMD_TEST_ADDRESS" ]; then \
	    marker="$$marker or clamd"; echo "== clamd tests selected (CLAMD_TEST_ADDRESS=$$CLAMD_TEST_ADDRESS)"; \
	else \
	    echo "== clamd tests NOT selected (they need CLAMD_TEST_ADDRESS; see devtools/clamd/start.sh)"; \
	fi; \
	$(VENV)/bin/pytest -p no:xdist -m "$$marker" $(PYTEST_ARGS)

# --- Benchmark (bench/rush/run.py; never a timed test) -------------------------------------------------------
# Locust and py-spy come from bench/requirements.txt, installed into .venv only here: the dev install stays lean.
# Needs PostgreSQL (user postgres, trust) and Redis on 127.0.0.1; creates and drops its own database
# ecandidat_bench and uses Redis database 9. Results in bench/results/ (git-ignored). BENCH_ARGS=... passes options.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): bench/requirements.txt $(STAMP)
	@# pip refuses extras in a constraints file (moto[server]): the dev pins without their extras.
	sed -E 's/\[[^]]*\]//' requirements-dev.txt > $(VENV)/constraints-dev.txt
	$(VPY) -m pip install --quiet -c $(VENV)/constraints-dev.txt -r bench/requirements.txt
	@touch $@

bench: $(BENCH_STAMP)
	$(VPY) -m bench.rush.run --profile $(BENCH_ARGS)

# A few seconds at a tiny load: checks that the harness starts, measures and reports (CI runs it; nothing timed).
bench-smoke: $(BENCH_STAMP)
	$(VPY) -m bench.rush.run --smoke $(BENCH_ARGS)

# --- Quality ----------------------------------------------------------------------------------------------
quality: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(MANAGE) makemigrations --check --dry-run

fix: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Pins are resolved for Python 3.12 (the oldest supported) with uv, kept in a throw-away tool venv.
# No hashes: installs then also work from the local wheel mirrors these machines use.
lock: $(VPY)
	@test -x .lockenv/bin/uv || { $(VPY) -m venv .lockenv && .lockenv/bin/pip install --quiet uv; }
	.lockenv/bin/uv pip compile --quiet --python-version 3.12 --no-header --annotation-style line \
	    requirements.in -o requirements.txt
	.lockenv/bin/uv pip compile --quiet --python-version 3.12 --no-header --annotation-style line \
	    -c requirements.txt requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf $(VENV) .lockenv .pytest_cache .ruff_cache .mypy_cache var/ecandidat.sqlite3* var/seed_demo.txt var/ent.log
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
