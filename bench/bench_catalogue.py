"""The "Offre de formation" page with many formations: query count, server time, memory.

Usage: ``make bench`` or ``.venv/bin/python -m bench.bench_catalogue [COUNT ...]`` (default 2000).
"""

import sys

from bench._harness import measure, test_database


def main(counts: list[int]) -> None:
    # Deferred: Django is set up by the benchmark harness before these run (bench/_harness.py).
    from django.test import Client  # noqa: PLC0415

    from offers.tests.factories import CentreFactory, DiplomaTypeFactory, FormationFactory  # noqa: PLC0415

    with test_database():
        client = Client()
        created = 0
        centres = [CentreFactory() for _ in range(20)]
        diplomas = [DiplomaTypeFactory(code=f"D{i}", label=f"Diplôme {i}") for i in range(5)]
        for count in counts:
            for index in range(created, count):
                centre = centres[index % len(centres)]
                FormationFactory(
                    centre=centre,
                    commission__centre=centre,
                    diploma_type=diplomas[index % len(diplomas)],
                    keywords="énergie, matériaux" if index % 10 == 0 else "",
                )
            created = count
            measure(f"catalogue, {count} formations", lambda: client.get("/offre-de-formation/"))
            measure(
                f"catalogue filtered 'energie', {count} formations",
                lambda: client.get("/offre-de-formation/", {"q": "energie"}),
            )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [2000])
