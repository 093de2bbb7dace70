"""The load-test harness's own arithmetic: percentiles, the profile summary, the smoke verdict, the table.

The harness itself (servers, Locust, the database) runs in CI as ``make bench-smoke``; these check the parts that
turn measurements into the figures the README quotes.
"""

from bench.rush.run import percentile, smoke_verdict, summarise_profile, table


def test_percentile_is_the_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 95) == 95.0
    assert percentile(values, 50) == 50.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 95) == 0.0


def test_profile_summary_leaves_out_wrappers_and_counts_each_function_once_per_sample():
    raw = "\n".join(
        [
            (
                "handle (gunicorn/workers/sync.py:1);__call__ (/x/site-packages/django/core/handlers/wsgi.py:2);"
                "__call__ (ecandidat/middleware.py:3);detail (applications/views_candidature.py:4);"
                "as_sql (django/db/models/sql/compiler.py:5) 30"
            ),
            (
                "handle (gunicorn/workers/sync.py:1);__call__ (ecandidat/middleware.py:3);"
                "detail (applications/views_candidature.py:4);piece_rows (documents/pieces.py:6);"
                "piece_rows (documents/pieces.py:7);SQLCompiler.as_sql (django/db/models/sql/compiler.py:5) 50"
            ),
            "handle (gunicorn/workers/sync.py:1);Template.render (django/template/base.py:9) 20",
        ]
    )

    summary = summarise_profile(raw, requests=10)

    assert summary["samples"] == 100
    assert summary["project"] == [
        ("detail (applications/views_candidature.py)", 80.0),
        ("piece_rows (documents/pieces.py)", 50.0),
    ]
    assert dict(summary["categories"]) == {
        "SQL building (ORM compiler)": 50.0,
        "template rendering": 20.0,
        "other (middleware, sessions, auth, URL resolving, Python)": 30.0,
    }


def _step(**fields):
    step = {
        "scale": 0.25,
        "pages_per_s": 32.0,
        "uploads_per_s": 2.2,
        "page_p95_ms": 80.0,
        "upload_p95_ms": 300.0,
        "errors": 0,
        "uploads_answered_302": 70,
        "uploads_stored": 70,
        "holds": True,
        "why": "",
    }
    return step | fields


def _results(**rush):
    return {
        "machine": {"cpus": 2, "load_average_at_start": (1.0, 1.0, 1.0)},
        "cpu": {"pieces page": {"statuses": {200: 8}}, "upload of a 1.4 MB PDF": {"statuses": {302: 3}}},
        "rush": {"bare": [_step()], "app": [_step()]} | rush,
        "dossier_memory": {"statuses": {200: 5}},
    }


def test_smoke_verdict_passes_a_clean_run_whatever_its_latency():
    assert smoke_verdict(_results(app=[_step(page_p95_ms=5000.0, holds=False, why="page p95 5000 ms")])) == 0


def test_smoke_verdict_fails_on_an_error_or_a_lost_upload(capsys):
    assert smoke_verdict(_results(app=[_step(errors=1)])) == 1
    assert smoke_verdict(_results(app=[_step(uploads_stored=69)])) == 1
    assert "70 uploads answered, 69 stored" in capsys.readouterr().err


def test_smoke_verdict_fails_when_a_page_did_not_answer_200():
    results = _results()
    results["cpu"]["pieces page"]["statuses"] = {200: 7, 500: 1}
    assert smoke_verdict(results) == 1


def test_table_names_the_highest_scale_each_project_held():
    results = _results(
        bare=[_step(scale=0.25), _step(scale=0.5)],
        app=[_step(scale=0.25), _step(scale=0.5, holds=False, why="page p95 250 ms")],
    )
    results["cpu"] = {}
    del results["dossier_memory"]

    lines = table(results)

    assert "Highest rush scale held: ecandidat 0.25x, bare Django 0.50x (ratio 0.50)." in lines
    assert any(line.startswith("| 0.50x |") and "fails (page p95 250 ms)" in line for line in lines)


def test_table_gives_the_workers_memory_at_each_moment_of_the_run():
    results = _results()
    results["cpu"] = {}
    del results["dossier_memory"]
    results["worker_rss_mib"] = {"after_warmup": [124, 125], "after_rush": [126, 133]}

    lines = table(results)

    assert "Web-worker RSS after warmup: [124, 125] MiB." in lines
    assert "Web-worker RSS after rush: [126, 133] MiB." in lines
