"""The back office read in English says everything in English (h50's scan of the English pages): no English msgid
names a French term of the application (the numéro de dossier is the "dossier number" in English, as on the
candidate's pages), and a French text by nature that an English sentence quotes is marked French (RGAA 8.7)."""

import pytest
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from applications.admin.review import history_line
from applications.enums import EventKind, PieceStatus
from applications.models import ApplicationEvent
from applications.services import staff
from applications.tests.factories import AddressFactory
from applications.tests.factories_candidature import decision_type, make_application, with_file
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = reverse("admin:applications_application_changelist")
ACCOUNTS = reverse("admin:accounts_candidateaccount_changelist")


@pytest.fixture
def listed(campaign, centre, commission):
    make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


@pytest.mark.parametrize(
    ("url", "queries", "search_help"),
    [
        # The lists as they are with one row: the applications' list with its counters, saved filters and tags.
        (APPLICATIONS, 20, "Name, dossier number, e-mail or INE."),
        (ACCOUNTS, 9, ""),
    ],
)
def test_the_dossier_number_column_in_english_and_in_french(
    client, central_manager, listed, url, queries, search_help, django_assert_num_queries
):
    client.force_login(central_manager)
    client.get(url, language="en")  # per-process memos warm

    with django_assert_num_queries(queries):
        english = client.get(url, language="en")
    french = client.get(url, language="fr")

    assertContains(english, ">Dossier number</a>")
    assertNotContains(english, "uméro de dossier")
    assertContains(french, ">Numéro de dossier</a>")
    if search_help:
        assertContains(english, search_help)
        assertContains(french, "Nom, numéro de dossier, e-mail ou INE.")


def test_the_dossier_page_in_english_marks_the_staffs_french_labels(
    client, centre_manager, campaign, centre, commission, django_assert_num_queries
):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")
    application = make_application(formation, campaign=campaign)
    with_file(application, label="Relevé de notes")
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    label = application.decisions.get().decision_type.label
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = client.get(change_url(application), language="en").content.decode()

    # The formation, its centre, the piece and the decision type are named as the staff wrote them, in French.
    name = application.candidate.staff_name
    assert f'<h1 id="dossier-title">{name} — <span lang="fr">Master Énergie</span></h1>' in page
    assert f'<li aria-current="page">{name} — <span lang="fr">Master Énergie</span></li>' in page
    assert f"<title>{name} — Master Énergie | eCandidat back office</title>" in page  # the tab's title: plain text
    assert f'— <span lang="fr">Master Énergie</span> · <span lang="fr">{centre.label}</span>' in page
    assert f'<a href="#decisions"><strong lang="fr">{label}</strong></a>' in page
    assert '<span lang="fr">Relevé de notes</span> <span class="review-status">' in page
    assert f'<td lang="fr">{label}</td>' in page


def test_the_history_marks_the_pieces_french_label_and_escapes_the_rest(centre_manager):
    event = ApplicationEvent(
        kind=EventKind.PIECE_STATUS,
        to_status=PieceStatus.REFUSED,
        comment="RNBAC: <b>illisible</b>",
        actor=centre_manager,
    )

    with translation.override("en"):
        text = history_line(event, {"RNBAC": "Relevé de notes & co"}).text

    assert text == (
        f'Piece refused “<span lang="fr">Relevé de notes &amp; co</span>” by {centre_manager.get_username()}: '
        '<span lang="fr">&lt;b&gt;illisible&lt;/b&gt;</span>'
    )


@pytest.mark.parametrize(
    ("persona", "linked", "queries"), [("candidates_manager", False, 17), ("read_only_staff", True, 17)]
)
def test_the_candidates_page_lists_the_applications_in_the_readers_punctuation(
    client, request, persona, linked, queries, campaign, centre, commission, django_assert_num_queries
):
    """The dossier's page listed each application as "Master Énergie : Received" in English too (the French space
    before the colon written in the template), the staff's French label unmarked; its addresses and baccalaureates
    were headed « Adresse: » in French."""
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")
    application = make_application(formation, campaign=campaign)
    AddressFactory(candidate=application.candidate)
    client.force_login(request.getfixturevalue(persona))
    url = reverse("admin:applications_candidate_change", args=[application.candidate.pk])
    client.get(url, language="en")  # per-process memos warm

    with django_assert_num_queries(queries):
        english = client.get(url, language="en").content.decode()
    french = client.get(url, language="fr").content.decode()

    name = f'<span lang="fr">{formation}</span>'
    if linked:
        name = f'<a href="{reverse("admin:applications_application_change", args=[application.pk])}">{name}</a>'
    assert f"<li>{name}: Received<br>" in english
    assert f"<li>{name} : Réceptionné<br>" in french
    # Each stacked form's heading too (Django writes « Adresse: » whatever the language).
    assert "<h3><b>Address:</b>" in english
    assert "<h3><b>Adresse\u00a0:</b>" in french
