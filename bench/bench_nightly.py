"""The nightly batches over many applications: time and memory per command.

Usage: ``python -m bench.bench_nightly [COUNT ...]`` (default 10000 100000), each count in a fresh throw-away
database (SQLite by default, PostgreSQL with DATABASE_URL). Data are made with bulk_create, by chunks:

- COUNT applications of the active campaign (one per candidate) over 100 formations, 5 of them with an
  automatic waiting list: 5 % favourable past their date de confirmation (withdrawn, then promotion), 5 %
  favourable within the reminder horizon (reminded), 10 % on the complementary list (ranked, promoted);
- the active campaign reaches its archiving date (archived: dates frozen, accounts closed; a next campaign exists);
- an old campaign archived 400 days ago with COUNT / 10 candidates and applications (destroyed);
- COUNT / 10 sent mails older than the outbox retention (pruned).

Memory: the process's peak RSS growth during the command (``ru_maxrss``, the whole process, not only Python) and
the peak of Python allocations (tracemalloc, measured on a second run of the chain on a fresh database would double
the time, so it is off unless ``--tracemalloc``: then times include its overhead). ``--limit=N`` stops the reminder
and withdrawal batches after N items (the rate per item is what matters; the rest is left for the next night).
"""

import datetime
import io
import resource
import subprocess
import sys
import time
import tracemalloc

from bench._harness import test_database

CHUNK = 5000
# --limit=N applies to these (the ones whose cost is per item); the others always run whole.
LIMITED = {"remind_favourable_decisions", "remind_transmission", "withdraw_expired_confirmations"}


def populate(count: int) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.utils import timezone  # noqa: PLC0415

    from accounts.models import User  # noqa: PLC0415
    from applications.enums import DecisionAction, DossierStatus  # noqa: PLC0415
    from applications.models import Application, Candidate, Decision  # noqa: PLC0415
    from ecandidat.models import OutboundEmail  # noqa: PLC0415
    from offers.enums import Avis  # noqa: PLC0415
    from offers.models import Campaign, DecisionType  # noqa: PLC0415
    from offers.tests.factories import CampaignFactory, CentreFactory, FormationFactory  # noqa: PLC0415

    today = timezone.localdate()
    now = timezone.now()
    campaign = CampaignFactory(is_active=True, archive_on=today)
    CampaignFactory(
        starts_on=campaign.starts_on + datetime.timedelta(days=365), ends_on=today.replace(year=today.year + 1)
    )
    old = CampaignFactory(
        starts_on=campaign.starts_on - datetime.timedelta(days=800),
        ends_on=campaign.starts_on - datetime.timedelta(days=600),
        archive_on=today - datetime.timedelta(days=400),
    )
    types = {
        avis: DecisionType.objects.create(
            code=avis.value, label=avis.label, candidate_label=avis.label, avis=avis, mail_code="AVIS_FAVORABLE"
        )
        for avis in (Avis.FAVOURABLE, Avis.COMPLEMENTARY_LIST)
    }
    centres = [CentreFactory() for _ in range(10)]
    formations = [
        FormationFactory(
            centre=centres[i % 10],
            commission__centre=centres[i % 10],
            auto_waiting_list=i % 20 == 0,
            favourable_decision_type=types[Avis.FAVOURABLE],
            waiting_list_confirmation_delay_days=7,
        )
        for i in range(100)
    ]
    actor = User.objects.create(username="bench.staff", email="staff@univ.example", is_staff=True)

    def chunk(start: int, size: int, target: Campaign, *, decisions: bool) -> None:
        users = User.objects.bulk_create(
            [
                User(username=f"K{target.pk}{start + i:07d}", email=f"c{start + i}@example.org", campaign=target)
                for i in range(size)
            ]
        )
        candidates = Candidate.objects.bulk_create(
            [
                Candidate(
                    user=user,
                    civility="Mme",
                    birth_name=f"NOM{start + i}",
                    first_name="Camille",
                    birth_date=datetime.date(2001, 1, 1),
                    birth_country="FR",
                    birth_city="Perpignan",
                    nationality="FR",
                )
                for i, user in enumerate(users)
            ]
        )
        applications = []
        for i, candidate in enumerate(candidates):
            n = start + i
            override = None
            if decisions and n % 20 == 0:
                override = today - datetime.timedelta(days=1)  # expired: withdrawn tonight
            elif decisions and n % 20 == 1:
                override = today + datetime.timedelta(days=1)  # within the reminder horizon
            applications.append(
                Application(
                    candidate=candidate,
                    formation=formations[((n // 20) % 5) * 20 if n % 20 in (0, 2, 3) else n % 100],
                    campaign=target,
                    created_by=candidate.user,
                    dossier_status=DossierStatus.COMPLETE,
                    confirmation_date_override=override,
                )
            )
        applications = Application.objects.bulk_create(applications)
        if not decisions:
            return
        rows = []
        for i, application in enumerate(applications):
            n = start + i
            if n % 20 in (0, 1):
                avis, rank = Avis.FAVOURABLE, None
            elif n % 20 in (2, 3):  # complementary list, 10 %, in the formations where withdrawals happen
                avis, rank = Avis.COMPLEMENTARY_LIST, n
            else:
                continue
            rows.append(
                Decision(
                    application=application,
                    decision_type=types[avis],
                    rank=rank,
                    action=DecisionAction.ENTERED,
                    created_by=actor,
                    validated_at=now - datetime.timedelta(days=10),
                    validated_by=actor,
                )
            )
        Decision.objects.bulk_create(rows)

    for start in range(0, count, CHUNK):
        chunk(start, min(CHUNK, count - start), campaign, decisions=True)
    for start in range(0, count // 10, CHUNK):
        chunk(start, min(CHUNK, count // 10 - start), old, decisions=False)
    sent = now - datetime.timedelta(days=1000)
    for start in range(0, count // 10, CHUNK):
        OutboundEmail.objects.bulk_create(
            [
                OutboundEmail(
                    code="X",
                    language="fr",
                    to=f"m{start + i}@example.org",
                    subject="s",
                    body="b",
                    status="SENT",
                    sent_at=sent,
                )
                for i in range(min(CHUNK, count // 10 - start))
            ]
        )


def run_chain(count: int, *, trace: bool, limit: int | None = None) -> list[dict]:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.core.management import call_command  # noqa: PLC0415

    from ecandidat.management.commands.nightly import BATCHES  # noqa: PLC0415
    from ecandidat.models import BatchRun  # noqa: PLC0415

    results = []
    for name in BATCHES:
        out = io.StringIO()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        try:
            options = {"limit": limit} if limit and name in LIMITED else {}
            call_command(name, stdout=out, stderr=io.StringIO(), **options)
        except Exception as exc:  # noqa: BLE001 (a missing optional batch, shown in the table)
            out.write(f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        if trace:
            tracemalloc.stop()
        rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        run = BatchRun.objects.filter(name=name).first()
        result = {
            "applications": count,
            "command": name,
            "seconds": round(elapsed, 2),
            "peak_rss_growth_mib": round(rss_growth, 1),
            "peak_python_mib": round(peak, 1) if peak is not None else "-",
            "status": run.status if run else "-",
            "counts": out.getvalue().strip().split(": ", 1)[-1][:110],
        }
        print(" | ".join(f"{key}={value}" for key, value in result.items()), flush=True)
        results.append(result)
    return results


def main(argv: list[str]) -> None:
    trace = "--tracemalloc" in argv
    limit = next((int(arg.split("=", 1)[1]) for arg in argv if arg.startswith("--limit=")), None)
    counts = [int(arg) for arg in argv if not arg.startswith("--")] or [10000, 100000]
    if len(counts) > 1:  # one process per size: a fresh database and a fresh memory high-water mark each
        for count in counts:
            flags = [arg for arg in argv if arg.startswith("--")]
            subprocess.run([sys.executable, "-m", "bench.bench_nightly", str(count), *flags], check=False)  # noqa: S603
        return
    for count in counts:
        with test_database():
            start = time.perf_counter()
            populate(count)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"# {count} applications generated in {time.perf_counter() - start:.1f} s, max RSS {rss:.0f} MiB")
            run_chain(count, trace=trace, limit=limit)


if __name__ == "__main__":
    main(sys.argv[1:])
