"""The candidate's menu tab to their applications reads « Candidature », as the candidates' guide names it (« L'onglet
"Candidature" dévoile le bouton "+Nouvelle candidature" »); the page it opens keeps its plural heading."""

import re

from django.urls import reverse

from applications.tests.factories_candidature import complete_candidate


def _tab(html: str) -> str:
    menu = html[html.index('<nav class="site-nav"') :]
    link = re.search(r'<a href="/candidat/candidatures/"[^>]*>([^<]*)</a>', menu)
    assert link is not None
    return link.group(1)


def test_the_menu_tab_is_the_guides_word(client, campaign, django_assert_num_queries):
    candidate = complete_candidate(user__campaign=campaign)
    client.force_login(candidate.user)

    client.language = "fr"  # the applications tests' client reads English pages (applications/tests/conftest.py)
    with django_assert_num_queries(3):  # the session, the user, the catalogue's query
        catalogue = client.get(reverse("offers:catalogue")).content.decode()
    client.language = "en"
    english = client.get(reverse("offers:catalogue")).content.decode()

    assert _tab(catalogue) == "Candidature"
    assert "<h1>Offre de formation</h1>" in catalogue  # the page was French
    assert _tab(english) == "Applications"
