"""Issue 12: releasing decisions with letters, and the export with every column.

1. Release: N applications with an entered favourable decision and an admission letter text; the background
   release (``applications.services.release.run_release``, what the Celery task runs) validates each one, mails it
   and builds its PDF letter (the letter task runs eagerly after each commit, as in the test settings).
2. Export: M applications (with address, baccalaureate, a validated decision, a note, a tag, an external cursus)
   exported with every column of ``applications.export_columns`` as streamed CSV, then as write-only XLSX.

Each step prints time, queries and peak RSS (sampled every 50 ms); with ``BENCH_TRACEMALLOC=1`` also the peak of
Python allocations (tracemalloc slows the run several times over: time figures are taken without it).
Usage: ``.venv/bin/python -m bench.decisions [N_RELEASE [M_EXPORT]]`` (default 500 10000); set DATABASE_URL for
PostgreSQL (the harness creates and drops its own test database). Files go to a temporary directory.
"""

import datetime
import gc
import os
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import contextmanager

from bench._harness import test_database


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


@contextmanager
def measured(label: str):
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.db import connection  # noqa: PLC0415

    queries = []

    def count(execute, sql, *args):
        queries.append(sql)
        return execute(sql, *args)

    gc.collect()
    base = _rss_mib()
    peak_rss = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak_rss[0] = max(peak_rss[0], _rss_mib())

    sampler = threading.Thread(target=sample)
    sampler.start()
    traced = os.environ.get("BENCH_TRACEMALLOC") == "1"
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    extra: dict = {}
    with connection.execute_wrapper(count):
        yield extra
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    if traced:
        tracemalloc.stop()
    done.set()
    sampler.join()
    details = " | ".join(f"{key}={value}" for key, value in extra.items())
    print(
        f"{label} | s={elapsed:.2f} | queries={len(queries)} | "
        f"peak_python_mib={f'{peak / 2**20:.1f}' if traced else 'not traced'} | "
        f"rss_mib before={base:.0f} peak={peak_rss[0]:.0f} (+{peak_rss[0] - base:.0f}) | {details} | "
        f"database={connection.vendor}",
        flush=True,
    )


def _seed_candidates(campaign, count: int, prefix: str):
    """``count`` candidates with address and baccalaureate, bulk-created (the factories would take minutes)."""
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from accounts.models import User  # noqa: PLC0415
    from applications.models import Address, Baccalaureate, Candidate  # noqa: PLC0415

    users = User.objects.bulk_create(
        User(username=f"{prefix}{n:07d}", email=f"{prefix.lower()}{n}@example.org", campaign=campaign)
        for n in range(count)
    )
    candidates = Candidate.objects.bulk_create(
        Candidate(
            user=user,
            civility="Mme",
            birth_name=f"NOM{n}",
            first_name="Camille",
            birth_date=datetime.date(2001, 2, 3),
            birth_country="FR",
            birth_city="Perpignan",
            nationality="FR",
        )
        for n, user in enumerate(users)
    )
    Address.objects.bulk_create(
        Address(candidate=c, line1="1 rue du Test", postal_code="66000", city="PERPIGNAN") for c in candidates
    )
    Baccalaureate.objects.bulk_create(Baccalaureate(candidate=c, series="GEN", year=2020) for c in candidates)
    return candidates


def release(count: int) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from accounts.tests.factories import StaffMembershipFactory  # noqa: PLC0415
    from applications.enums import DecisionAction, DossierStatus  # noqa: PLC0415
    from applications.models import Application, Decision, DecisionLetter, ReleaseJob  # noqa: PLC0415
    from applications.services.release import run_release  # noqa: PLC0415
    from ecandidat.models import OutboundEmail  # noqa: PLC0415
    from offers.models import DecisionLetterTemplate, DecisionType  # noqa: PLC0415
    from offers.tests.factories import CampaignFactory, FormationFactory  # noqa: PLC0415

    campaign = CampaignFactory(is_active=True)
    formation = FormationFactory()
    manager = StaffMembershipFactory(centre=formation.centre).user
    favourable = DecisionType.objects.create(
        code="FAV", label="Avis favorable", candidate_label="Avis favorable", avis="FA", mail_code="AVIS_FAVORABLE"
    )
    DecisionLetterTemplate.objects.create(
        kind="LETTRE_ADM",
        centre=formation.centre,
        title="Lettre d'admission — ${formation_code}",
        body="Madame, Monsieur ${last_name},\n\nVous êtes admis(e) en ${formation_title}.\n" * 6,
        signatory="Le directeur",
    )
    candidates = _seed_candidates(campaign, count, "R")
    applications = Application.objects.bulk_create(
        Application(
            candidate=c,
            formation=formation,
            campaign=campaign,
            created_by=c.user,
            dossier_status=DossierStatus.COMPLETE,
        )
        for c in candidates
    )
    Decision.objects.bulk_create(
        Decision(application=a, decision_type=favourable, action=DecisionAction.ENTERED, created_by=manager)
        for a in applications
    )
    job = ReleaseJob.objects.create(requested_by=manager, application_ids=[a.pk for a in applications], total=count)
    with measured(f"release {count} decisions with letters (background job)"):
        run_release(job.pk)
    job.refresh_from_db()
    letters = DecisionLetter.objects.exclude(file="")
    extra_line = (
        f"validated={job.done} refused={len(job.refusals)} mails={OutboundEmail.objects.count()} "
        f"letters_built={letters.count()}"
    )
    print(f"  {extra_line}", flush=True)


def export(count: int) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from accounts.tests.factories import StaffMembershipFactory  # noqa: PLC0415
    from applications import export_columns  # noqa: PLC0415
    from applications.enums import DecisionAction  # noqa: PLC0415
    from applications.models import Application, ApplicationNote, ApplicationTag, Decision, ExternalCursus, Tag  # noqa: PLC0415
    from offers.models import Campaign, DecisionType  # noqa: PLC0415
    from offers.tests.factories import FormationFactory  # noqa: PLC0415

    campaign = Campaign.objects.get(is_active=True)  # the release's
    formation = FormationFactory()
    manager = StaffMembershipFactory(centre=formation.centre).user
    refusal = DecisionType.objects.create(
        code="DEF", label="Avis défavorable", candidate_label="Défavorable", avis="DE", mail_code="AVIS_DEFAVORABLE"
    )
    candidates = _seed_candidates(campaign, count, "E")
    now = datetime.datetime.now(datetime.UTC)
    applications = Application.objects.bulk_create(
        Application(candidate=c, formation=formation, campaign=campaign, created_by=c.user) for c in candidates
    )
    Decision.objects.bulk_create(
        Decision(
            application=a,
            decision_type=refusal,
            action=DecisionAction.ENTERED,
            created_by=manager,
            validated_at=now,
            validated_by=manager,
            comment="Dossier examiné",
        )
        for a in applications
    )
    ExternalCursus.objects.bulk_create(
        ExternalCursus(candidate=c, year=2024, label="Licence", obtained="O", country="FR", school="UPVD")
        for c in candidates
    )
    ApplicationNote.objects.bulk_create(
        ApplicationNote(application=a, author=manager, text="Note de commission") for a in applications
    )
    tag = Tag.objects.create(label="Prioritaire")
    ApplicationTag.objects.bulk_create(ApplicationTag(application=a, tag=tag, added_by=manager) for a in applications)
    keys = list(export_columns.COLUMNS)
    queryset = Application.objects.all()

    with measured(f"export {count} applications x {len(keys)} columns, CSV streamed") as extra:
        size = 0
        rows = export_columns.export_rows(queryset, keys)
        for line in export_columns.stream_csv(export_columns.headers(keys), rows):
            size += len(line.encode("utf-8"))
        extra["csv_mib"] = f"{size / 2**20:.1f}"

    with measured(f"export {count} applications x {len(keys)} columns, XLSX write-only") as extra:
        rows = export_columns.export_rows(queryset, keys)
        with export_columns.write_xlsx(export_columns.headers(keys), rows, title="Candidatures") as output:
            output.seek(0, 2)
            extra["xlsx_mib"] = f"{output.tell() / 2**20:.1f}"


def main(release_count: int, export_count: int) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.test import override_settings  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as root:
        storages = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(STORAGES=storages), test_database():
            release(release_count)
            export(export_count)


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:]]
    main(*(arguments + [500, 10_000][len(arguments) :]))
