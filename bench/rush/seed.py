"""Seed the load-test database: the demo catalogue plus N candidates with a complete dossier and one application.

Run by ``bench/rush/run.py`` in the production-like environment (``ecandidat.settings.base`` + env), against the
benchmark's own database: ``python -m bench.rush.seed --candidates 300 --out seed.json``. Everything goes through
the project's services (the same ones ``seed_demo`` uses): no shortcut in application code.

The JSON written lists, per candidate, a logged-in session key (``Client.force_login``: the load test measures
page views and uploads, not the password hasher), a CSRF secret and the upload slots (application, piece type).
``--reset-uploads`` removes, through ``applications.services.pieces.remove_piece``, every file uploaded since the
seed, so that the next rush step finds its slots empty again.
"""

import argparse
import json
import os
import secrets
import sys
import time

import django


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecandidat.settings.base")
    django.setup()


def seed(candidates: int) -> dict:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from allauth.account.models import EmailAddress  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from accounts.models import User  # noqa: PLC0415
    from accounts.services import issue_numero_dossier  # noqa: PLC0415
    from applications import services  # noqa: PLC0415
    from applications.enums import BacSeries, Civility, Mention  # noqa: PLC0415
    from applications.pieces import piece_rows  # noqa: PLC0415
    from applications.services import candidature  # noqa: PLC0415
    from offers.models import Campaign, Formation  # noqa: PLC0415

    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", on_production_settings=True, stdout=quiet)
    campaign = Campaign.objects.active().first()
    assert campaign is not None, "seed_demo created no active campaign"
    # Formations open to applications that ask for at least two pieces: the upload slots.
    formations = list(Formation.objects.for_catalogue().order_by("code"))
    rows = []
    started = time.monotonic()
    for number in range(candidates):
        email = f"rush{number}@bench.example.org"
        user = User(
            username=issue_numero_dossier(),
            campaign=campaign,
            email=email,
            first_name="Camille",
            last_name=f"RUSH{number}",
        )
        user.set_unusable_password()
        user.save()
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        candidate = services.save_personal_details(
            user=user,
            candidate=None,
            data={
                "civility": Civility.MRS,
                "birth_name": f"RUSH{number}",
                "first_name": "Camille",
                "birth_date": "2002-01-30",
                "birth_country": "FR",
                "birth_department": "66",
                "birth_city": "Perpignan",
                "nationality": "FR",
                "mobile": "+33612345670",
            },
            actor=user,
        )
        services.save_address(
            candidate=candidate,
            data={
                "line1": "12 avenue de Grande-Bretagne",
                "postal_code": "66000",
                "city": "PERPIGNAN",
                "country": "FR",
            },
            actor=user,
        )
        services.add_baccalaureate(
            candidate=candidate,
            data={
                "series": BacSeries.GENERAL,
                "year": 2019,
                "country": "FR",
                "department": "66",
                "mention": Mention.FAIRLY_GOOD,
            },
            actor=user,
        )
        application = None
        slots: list[int] = []
        # The first formation (in a fixed rotation) that accepts the application and asks for pieces.
        for offset in range(len(formations)):
            formation = formations[(number + offset) % len(formations)]
            try:
                application = candidature.create_application(candidate=candidate, formation=formation, actor=user)
            except Exception:  # closed, full or not open to this candidate: try the next one
                continue
            slots = [row.piece_type.pk for row in piece_rows(application) if row.document is None]
            if slots:
                break
        assert application is not None, "no demo formation accepts the application"
        assert slots, "no demo formation asks for pieces"
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        csrf = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret, as the cookie holds
        rows.append(
            {
                "session": session,
                "csrf": csrf,
                # The Cookie header as a browser sends it, with the deployment's names (__Host-… with DEBUG off).
                "cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
                "application": str(application.public_id),
                "pieces": slots,
            }
        )
    return {
        "candidates": rows,
        "seconds": round(time.monotonic() - started, 1),
        "formations": len(formations),
        "seed_started": started,
    }


def reset_uploads(seed_file: str) -> int:
    """Remove every file uploaded on the seeded slots (the real service: rows, history, file after commit)."""
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from applications.models import Application  # noqa: PLC0415
    from applications.pieces import piece_rows  # noqa: PLC0415
    from applications.services import pieces as piece_services  # noqa: PLC0415

    with open(seed_file) as handle:
        data = json.load(handle)
    removed = 0
    for row in data["candidates"]:
        application = Application.objects.select_related("candidate__user").get(public_id=row["application"])
        user = application.candidate.user
        for piece in piece_rows(application):
            if piece.piece_type.pk in row["pieces"] and piece.document is not None:
                piece_services.remove_piece(application=application, piece_type=piece.piece_type, actor=user)
                removed += 1
    return removed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--out", default="seed.json")
    parser.add_argument("--reset-uploads", metavar="SEED_JSON")
    arguments = parser.parse_args(argv)
    _setup()
    if arguments.reset_uploads:
        print(f"removed {reset_uploads(arguments.reset_uploads)} uploaded files")
        return
    data = seed(arguments.candidates)
    with open(arguments.out, "w") as handle:
        json.dump(data, handle)
    slots = sum(len(row["pieces"]) for row in data["candidates"])
    print(f"seeded {len(data['candidates'])} candidates, {slots} upload slots, in {data['seconds']} s")


if __name__ == "__main__":
    main(sys.argv[1:])
