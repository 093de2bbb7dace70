"""Candidate pages: login, dossier pages and the application recap ("Récapitulatif de votre candidature").

Query count, server time and peak Python memory per page, with a recap of 1 and of 20 pieces.
Usage: ``.venv/bin/python -m bench.bench_candidate_pages``.
"""

from bench._harness import measure, test_database


def main() -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.test import Client  # noqa: PLC0415

    from applications.tests.factories_candidature import ApplicationFactory, PieceSubmissionFactory, complete_candidate  # noqa: PLC0415
    from offers.tests.factories import CampaignFactory, FormationFactory, PieceTypeFactory  # noqa: PLC0415

    with test_database():
        campaign = CampaignFactory(is_active=True)
        anonymous = Client()
        measure("login page (anonymous)", lambda: anonymous.get("/accounts/login/"))
        for pieces in (1, 20):
            candidate = complete_candidate(user__campaign=campaign)
            formation = FormationFactory()
            application = ApplicationFactory(candidate=candidate, formation=formation, campaign=campaign)
            for _ in range(pieces):
                piece = PieceTypeFactory()
                formation.piece_types.add(piece)
                PieceSubmissionFactory(application=application, piece_type=piece)
            client = Client()
            client.force_login(candidate.user)
            url = f"/candidat/candidatures/{application.public_id}/"
            measure(f"recap, {pieces} piece(s)", lambda url=url, client=client: client.get(url))
            if pieces == 1:
                measure("Informations perso.", lambda client=client: client.get("/candidat/informations-perso/"))
                measure("Candidatures list", lambda client=client: client.get("/candidat/candidatures/"))


if __name__ == "__main__":
    main()
