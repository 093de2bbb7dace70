"""The back office's applications list with many applications: query count and server time.

Usage: ``.venv/bin/python -m bench.bench_admin_list [--export] [COUNT ...]`` (default 10000). Rows are made with
bulk_create, pieces included: three of the formation's own pieces per application at statuses in turn (about a third
transmitted), and the candidate's shared ones (the institution's common piece, transmitted or validated; every fifth
candidate, a common piece of their formation's centre or of another; every fourth, a piece of the formation's that
they share), so that « Pièces à contrôler » (``?to_check=yes``) reads pieces as a campaign has them.
``--export`` measures the list's « Exporter » (CSV and XLSX, the central office's whole list) instead of
the page: through the view in the request (``EXPORT_IN_REQUEST_MAX_ROWS`` raised to the largest count: above it the
application queues a background job), whose response streams, and the former way (the whole file built in memory
with ``to_csv``/``to_xlsx``) for comparison; the peak is Python's (tracemalloc) while the response is read to its end.
"""

import datetime
import sys

from bench._harness import measure, test_database

URL = "/gestion/applications/application/"


# The statuses of each application's own pieces, in turn: a transmitted, validated or refused piece has its file.
PIECE_STATUSES = ["AT", "TR", "VA", "RE", "NC", "TR"]
WITH_FILE = {"TR", "VA", "RE"}


def piece_types(formations, centres):
    """The piece types the bench's formations ask for: four of each formation's own (three answered per application,
    the fourth shared by the candidate), the institution's common piece and one common piece per centre."""
    from offers.models import PieceType  # noqa: PLC0415

    institution = PieceType.objects.create(code="CV", label="CV", is_common=True)
    per_centre = {
        centre.pk: PieceType.objects.create(code=f"C{centre.pk}", label="Attestation", is_common=True, centre=centre)
        for centre in centres
    }
    own = {}
    for formation in formations:
        own[formation.pk] = [
            PieceType.objects.create(code=f"P{formation.pk}_{index}", label=f"Pièce {index}") for index in range(4)
        ]
        formation.piece_types.add(*own[formation.pk])
    return {"institution": institution, "per_centre": per_centre, "own": own}


def populate_pieces(applications, types) -> None:
    """The applications' own pieces and their candidates' shared ones (one application per candidate here)."""
    from applications.models import PieceSubmission  # noqa: PLC0415
    from documents.models import Document  # noqa: PLC0415

    planned = []  # (application or None, candidate id, piece type, status)
    centres = list(types["per_centre"])
    for index, application in enumerate(applications):
        own = types["own"][application.formation_id]
        for rank, piece_type in enumerate(own[:3]):
            status = PIECE_STATUSES[(index + rank) % len(PIECE_STATUSES)]
            planned.append((application, application.candidate_id, piece_type, status))
        planned.append((None, application.candidate_id, types["institution"], "TR" if index % 2 else "VA"))
        if index % 5 == 0:  # a common piece of their formation's centre, or of another (never to check here)
            centre = centres[(index // 5) % len(centres)]
            planned.append((None, application.candidate_id, types["per_centre"][centre], "TR"))
        if index % 4 == 0:
            planned.append((None, application.candidate_id, own[3], "TR"))
    users = {application.candidate_id: application.created_by_id for application in applications}
    documents = iter(
        Document.objects.bulk_create(
            [
                Document(
                    campaign_code="BENCH",
                    file=f"BENCH/{number}.pdf",
                    original_name="piece.pdf",
                    size=1000,
                    content_type="application/pdf",
                    sha256="0" * 64,
                    uploaded_by_id=users[candidate_id],
                )
                for number, (_application, candidate_id, _type, status) in enumerate(planned)
                if status in WITH_FILE
            ],
            batch_size=5000,
        )
    )
    PieceSubmission.objects.bulk_create(
        [
            PieceSubmission(
                application=application,
                candidate_id=candidate_id,
                piece_type=piece_type,
                status=status,
                document=next(documents) if status in WITH_FILE else None,
            )
            for application, candidate_id, piece_type, status in planned
        ],
        batch_size=5000,
    )


def populate(count: int, *, start: int, formations, campaign, decision_types, actor, pieces) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from accounts.models import User  # noqa: PLC0415
    from applications.enums import DossierStatus  # noqa: PLC0415
    from applications.models import Application, Candidate, Decision  # noqa: PLC0415

    users = User.objects.bulk_create(
        [
            User(username=f"B{start + index:07d}", email=f"b{start + index}@example.org", campaign=campaign)
            for index in range(count)
        ],
        batch_size=2000,
    )
    candidates = Candidate.objects.bulk_create(
        [
            Candidate(
                user=user,
                civility="Mme",
                birth_name=f"NOM{index}",
                first_name="Camille",
                birth_date=datetime.date(2001, 1, 1),
                birth_country="FR",
                birth_city="Perpignan",
                nationality="FR",
            )
            for index, user in enumerate(users)
        ],
        batch_size=2000,
    )
    statuses = list(DossierStatus)
    applications = Application.objects.bulk_create(
        [
            Application(
                candidate=candidate,
                formation=formations[index % len(formations)],
                campaign=campaign,
                created_by=candidate.user,
                dossier_status=statuses[index % len(statuses)],
            )
            for index, candidate in enumerate(candidates)
        ],
        batch_size=2000,
    )
    Decision.objects.bulk_create(
        [
            Decision(
                application=application, decision_type=decision_types[index % len(decision_types)], created_by=actor
            )
            for index, application in enumerate(applications)
            if index % 3 == 0
        ],
        batch_size=2000,
    )
    populate_pieces(applications, pieces)


def _page(client, params=None):
    """The list page itself: a redirect (to a login or second-factor page) would measure the wrong thing."""
    response = client.get(URL, params)
    if response.status_code != 200:
        raise SystemExit(f"{URL}: HTTP {response.status_code}, expected 200")
    return response


def _read_export(client, fmt: str) -> int:
    """The export read to its end, a chunk at a time as a browser would; its size in bytes."""
    response = client.get(f"{URL}export/{fmt}/")
    if response.status_code != 200 or not response.streaming:
        raise SystemExit(f"export {fmt}: HTTP {response.status_code}, streaming={response.streaming}")
    size = sum(len(chunk) for chunk in response.streaming_content)
    response.close()
    return size


def _export_in_memory(user, fmt: str) -> int:
    """The former export: the view's queryset (the list's, for ``user``), every row in a list-backed sheet or
    buffer, then the whole file as one ``bytes``."""
    from django.contrib import admin  # noqa: PLC0415
    from django.test import RequestFactory  # noqa: PLC0415

    from applications.admin import exports as list_exports  # noqa: PLC0415
    from applications.admin.listing import with_export_data  # noqa: PLC0415
    from applications.models import Application  # noqa: PLC0415
    from ecandidat import exports  # noqa: PLC0415
    from ecandidat.admin_base import changelist_of  # noqa: PLC0415

    request = RequestFactory().get(f"{URL}export/{fmt}/")
    request.user = user
    model_admin = admin.site._registry[Application]
    queryset = with_export_data(changelist_of(model_admin, request).get_queryset(request))
    headers = [str(header) for header in list_exports.EXPORT_HEADERS]
    chunk, list_exports.EXPORT_CHUNK = list_exports.EXPORT_CHUNK, 2000  # the former chunk
    try:
        rows = list_exports.export_rows(queryset)
        content = exports.to_xlsx(headers, rows) if fmt == "xlsx" else exports.to_csv(headers, rows)
    finally:
        list_exports.EXPORT_CHUNK = chunk
    return len(content)


def main(counts: list[int], *, export: bool = False) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from accounts.tests.factories import StaffMembershipFactory  # noqa: PLC0415
    from accounts.tests.mfa import Client  # force_login also records the back office's second factor  # noqa: PLC0415
    from offers.enums import Avis  # noqa: PLC0415
    from offers.models import DecisionType  # noqa: PLC0415
    from offers.tests.factories import CampaignFactory, CentreFactory, FormationFactory  # noqa: PLC0415

    with test_database():
        campaign = CampaignFactory(is_active=True)
        centres = [CentreFactory() for _ in range(10)]
        formations = [FormationFactory(centre=centres[i % 10], commission__centre=centres[i % 10]) for i in range(100)]
        decision_types = [
            DecisionType.objects.create(
                code=avis.value,
                label=avis.label,
                candidate_label=avis.label,
                avis=avis,
                mail_code=f"AVIS_{avis.value}",
            )
            for avis in Avis
        ]
        central = StaffMembershipFactory(central=True).user
        manager = StaffMembershipFactory(centre=centres[0]).user
        pieces = piece_types(formations, centres)
        created = 0
        for count in counts:
            populate(
                count - created,
                start=created,
                formations=formations,
                campaign=campaign,
                decision_types=decision_types,
                actor=central,
                pieces=pieces,
            )
            created = count
            if export:
                # The in-request export (above EXPORT_IN_REQUEST_MAX_ROWS the view queues a background job instead):
                # measured at every count, to see what the threshold spares the web workers.
                from django.conf import settings  # noqa: PLC0415

                settings.EXPORT_IN_REQUEST_MAX_ROWS = max(counts)
                client = Client()
                client.force_login(central)
                for fmt in ("csv", "xlsx"):
                    measure(
                        f"export {fmt}, streamed (view), {count} applications",
                        lambda c=client, f=fmt: _read_export(c, f),
                        repeat=1,
                    )
                    measure(
                        f"export {fmt}, in memory (before), {count} applications",
                        lambda f=fmt: _export_in_memory(central, f),
                        repeat=1,
                    )
                continue
            for label, user in (("central office", central), ("centre manager", manager)):
                client = Client()
                client.force_login(user)
                measure(f"admin list, {label}, {count} applications", lambda c=client: _page(c), repeat=10)
                measure(
                    f"admin list filtered (complete, decision to validate), {label}, {count} applications",
                    lambda c=client: _page(c, {"dossier_status__exact": "CO", "validated": "no"}),
                    repeat=10,
                )
                measure(
                    # The central office's « favourable avis left to publish »: three subqueries PostgreSQL estimated
                    # at one row (applications.admin.filters.with_list_data), 89 s at 40,000 applications.
                    f"admin list « Favorable » to validate (decision=FA, validated=no), {label}, {count} applications",
                    lambda c=client: _page(c, {"decision": "FA", "validated": "no"}),
                    repeat=10,
                )
                measure(
                    f"admin list « Pièces à contrôler » (to_check=yes), {label}, {count} applications",
                    lambda c=client: _page(c, {"to_check": "yes"}),
                    repeat=10,
                )
                measure(
                    f"admin list search 'NOM12', {label}, {count} applications",
                    lambda c=client: _page(c, {"q": "NOM12"}),
                    repeat=10,
                )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main([int(arg) for arg in arguments if arg != "--export"] or [10000], export="--export" in arguments)
