"""What central staff and commission members read once candidates answered or a decision was made automatically.

The applications list has no answer column (issue 11 fitted it to 1,280 px): its decision cell now says the answer
and the cancellation, so a withdrawn candidate no longer reads as simply admitted. A promotion from the waiting list
has no author: "entered by / validated by" now name its automatic origin (eCandidat's « gestion auto. liste comp. »)
in the export, on the reading page, on the decision pages and in the history. The quick export's titles are capitalised
as the chosen-columns export's (the OPI state filter: opi/test_admin.py).
"""

import datetime
import html
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from openpyxl import load_workbook

from applications.enums import AUTOMATIC_DECISION_AUTHORS, DecisionAction, DossierStatus
from applications.models import Application, Decision
from applications.models.candidature import decision_author
from applications.services import candidature, nightly, staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import RELEASED_REVIEW_PAGE_QUERIES, change_url, csv_rows, operation_url, post_export
from ecandidat.batches import Report
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"
QUERIES_LIST = 20  # as test_admin_applications.QUERIES_LIST: what the rows say costs no query
QUERIES_ENTER_DECISION = 12  # as test_admin_duplicate_decision.QUERIES_PAGE
QUERIES_EXPORT = 31  # as test_export_columns.test_queries_constant_per_chunk for one chunk
QUERIES_QUICK_EXPORT = 18  # the list's queries, then the rows with their tags and notes


def page_text(page: str) -> str:
    """The words of an HTML page as a reader gets them: tags dropped, entities decoded, white space collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="MINFO",
        auto_waiting_list=True,
        favourable_decision_type=decision_type(Avis.FAVOURABLE),
    )


@pytest.fixture
def answered(formation, campaign, centre_manager):
    """Three validated favourable decisions, one confirmed, one withdrawn, one unanswered; and a cancelled
    application (cancelled before any decision, as the service requires)."""
    rows = {}
    for name in ("confirmed", "withdrawn", "unanswered"):
        application = make_application(formation, campaign=campaign)
        application.candidate.birth_name = name.upper()
        application.candidate.save(update_fields=["birth_name"])
        decide(application, Avis.FAVOURABLE, actor=centre_manager)
        rows[name] = application
    candidature.confirm_application(application=rows["confirmed"], actor=rows["confirmed"].candidate.user)
    candidature.withdraw_application(application=rows["withdrawn"], actor=rows["withdrawn"].candidate.user)
    cancelled = make_application(formation, campaign=campaign, status=DossierStatus.WAITING)
    candidature.cancel_application(application=cancelled, actor=cancelled.candidate.user)
    rows["cancelled"] = cancelled
    return rows


@pytest.fixture
def promoted(formation, campaign, centre_manager):
    """A favourable candidate withdrew: the first of the complementary list was admitted by the automatic
    waiting-list management (no person acted)."""
    listed = make_application(formation, campaign=campaign)
    decide(listed, Avis.COMPLEMENTARY_LIST, actor=centre_manager, rank=1)
    admitted = make_application(formation, campaign=campaign)
    decide(admitted, Avis.FAVOURABLE, actor=centre_manager)
    candidature.withdraw_application(application=admitted, actor=admitted.candidate.user)
    decision = listed.decisions.newest_first().first()
    assert decision.action == DecisionAction.WAITING_LIST_PROMOTION
    assert decision.created_by is None
    assert decision.validated_by is None
    return listed


def decision_cells(page: str) -> dict[str, str]:
    """The decision cell of each row of the list, by the row's candidate name."""
    cells = {}
    for row in re.findall(r"<tr[^>]*>.*?</tr>", page, re.S):
        name = re.search(r'class="field-candidate_name"[^>]*>(?:<a [^>]*>)?([^<]*)', row)
        # The decision type's label is marked French inside the cell (<span lang="fr">): its text is read.
        decision = re.search(r'class="field-decision"><span class="card-value">(.*?)</span></td>', row)
        if name and decision:
            text = re.sub(r"<[^>]+>", "", decision.group(1))
            cells[html.unescape(name.group(1)).split()[0]] = html.unescape(text).replace("\xa0", " ")
    return cells


# --- the list's decision cell -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            {
                "CONFIRMED": "Favourable (validated) — Confirmed",
                "WITHDRAWN": "Favourable (validated) — Withdrawn",
                "UNANSWERED": "Favourable (validated)",
            },
        ),
        (
            "fr",
            {
                "CONFIRMED": "Favourable (validé) — Confirmée",
                "WITHDRAWN": "Favourable (validé) — Désistée",
                "UNANSWERED": "Favourable (validé)",
            },
        ),
    ],
)
def test_the_decision_cell_says_the_answer(
    client, django_assert_num_queries, centre_manager, answered, language, expected
):
    """A candidate who withdrew read « Favorable (validé) », as one admitted: the list has no answer column."""
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        page = client.get(reverse(CHANGELIST), language=language).content.decode()

    cells = decision_cells(page)
    assert {name: cells[name] for name in expected} == expected


@pytest.mark.parametrize(("language", "expected"), [("en", "Cancelled"), ("fr", "Annulée")])
def test_a_cancelled_application_says_so(
    client, django_assert_num_queries, centre_manager, answered, language, expected
):
    """A cancelled application read « — » as one waiting for its decision (its status stays « En attente »)."""
    cancelled = answered["cancelled"]
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        page = client.get(reverse(CHANGELIST) + "?cancelled=yes", language=language).content.decode()

    assert decision_cells(page) == {cancelled.candidate.staff_name.split()[0]: expected}


@pytest.mark.parametrize("count", [1, 6])
def test_the_list_costs_the_same_whatever_the_answers(
    client, django_assert_num_queries, centre_manager, formation, campaign, count
):
    for _ in range(count):
        application = make_application(formation, campaign=campaign)
        decide(application, Avis.FAVOURABLE, actor=centre_manager)
        candidature.withdraw_application(application=application, actor=application.candidate.user)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_LIST):
        page = client.get(reverse(CHANGELIST)).content.decode()

    assert page.count("(validated) —\xa0Withdrawn") == count


# --- who entered and validated: the automatic origins -----------------------------------------------------------


def test_every_decision_action_has_an_automatic_origin():
    """A decision of any origin without a person says where it came from, never an empty cell."""
    assert set(AUTOMATIC_DECISION_AUTHORS) == set(DecisionAction)
    with translation.override("fr"):
        assert decision_author(None, DecisionAction.WAITING_LIST_PROMOTION) == (
            "gestion automatique des listes complémentaires"
        )
        assert decision_author(None, DecisionAction.DIRECT_ACCESS) == "accès direct automatique"
        assert decision_author("gestionnaire.see", DecisionAction.WAITING_LIST_PROMOTION) == "gestionnaire.see"
        assert decision_author(None, None) == ""  # no decision


@pytest.mark.parametrize(
    ("language", "origin"),
    [
        ("en", "automatic waiting-list management"),
        ("fr", "gestion automatique des listes complémentaires"),
    ],
)
def test_the_export_names_the_automatic_promotion(
    client, django_assert_num_queries, central_manager, promoted, language, origin
):
    """« Avis saisi par » and « Avis validé par » were empty after a promotion from the waiting list."""
    client.force_login(central_manager)
    client.language = language

    with django_assert_num_queries(QUERIES_EXPORT):
        rows = csv_rows(post_export(client, ["numero", "decision_entered_by", "decision_validated_by"]))

    by_numero = {row[0]: row[1:] for row in rows[1:]}
    assert by_numero[promoted.candidate.user.username] == [origin, origin]


def test_the_export_names_people_and_leaves_an_unvalidated_decision_without_validator(
    client, django_assert_num_queries, centre_manager, central_manager, formation, campaign
):
    validated = make_application(formation, campaign=campaign)
    decision = staff.record_decision(validated, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    staff.validate_decision(decision, actor=central_manager)
    entered = make_application(formation, campaign=campaign)
    staff.record_decision(entered, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    undecided = make_application(formation, campaign=campaign)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_EXPORT):
        rows = csv_rows(post_export(client, ["numero", "decision_entered_by", "decision_validated_by"]))

    by_numero = {row[0]: row[1:] for row in rows[1:]}
    assert by_numero[validated.candidate.user.username] == [centre_manager.username, central_manager.username]
    assert by_numero[entered.candidate.user.username] == [centre_manager.username, ""]
    assert by_numero[undecided.candidate.user.username] == ["", ""]


@pytest.mark.parametrize(
    ("language", "entered", "validated_by", "history"),
    [
        (
            "en",
            "automatic waiting-list management",
            "(automatic waiting-list management)",
            "Promoted from the waiting list by automatic waiting-list management",
        ),
        (
            "fr",
            "gestion automatique des listes complémentaires",
            "(gestion automatique des listes complémentaires)",
            "Passage de la liste complémentaire par gestion automatique des listes complémentaires",
        ),
    ],
)
def test_the_reading_page_names_the_automatic_promotion(
    client, django_assert_num_queries, centre_manager, promoted, language, entered, validated_by, history
):
    """The decisions table said « Créé et validé par gestion auto. liste comp. » under « Saisi par » and « — » for
    who validated; the history said « (traitement auto_waiting_list) », the batch's code."""
    client.force_login(centre_manager)

    with django_assert_num_queries(RELEASED_REVIEW_PAGE_QUERIES):
        page = client.get(change_url(promoted), language=language).content.decode()

    section = html.unescape(re.search(r'<section id="decisions".*?</section>', page, re.S).group(0))
    last_row = re.findall(r"<tr>(.*?)</tr>", section, re.S)[-1]
    cells = [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td.*?</td>", last_row)
    ]
    assert cells[3] == entered
    assert cells[4].endswith(validated_by)
    text = page_text(page)
    assert history in text
    assert "auto_waiting_list" not in text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Application withdrawn (batch “Automatic withdrawal of applications”)"),
        ("fr", "Désistement (traitement « Désistement automatique des candidatures »)"),
    ],
)
def test_the_history_names_a_nightly_batch_in_words(client, centre_manager, formation, campaign, language, expected):
    """An automatic withdrawal read « (traitement withdraw_expired_confirmations) »."""
    application = make_application(formation, campaign=campaign)
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    today = timezone.localdate()
    Application.objects.filter(pk=application.pk).update(confirmation_date_override=today)
    nightly.withdraw_expired_confirmations(
        Report(), dry_run=False, limit=None, today=today + datetime.timedelta(days=1)
    )
    application.refresh_from_db()
    assert application.accepted is False
    client.force_login(centre_manager)

    page = client.get(change_url(application), language=language).content.decode()

    text = page_text(page)
    assert expected in text
    assert "withdraw_expired_confirmations" not in text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "entered on {at} by automatic waiting-list management"),
        ("fr", "saisi le {at} par gestion automatique des listes complémentaires"),
    ],
)
def test_the_decision_page_names_the_automatic_promotion(
    client, django_assert_num_queries, centre_manager, promoted, language, expected
):
    """« Saisir un avis » said « saisi le … par Créé et validé par gestion auto. liste comp. »."""
    decision = Decision.objects.get(application=promoted, action=DecisionAction.WAITING_LIST_PROMOTION)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_ENTER_DECISION):
        page = client.get(operation_url(promoted, "enter_decision"), language=language).content.decode()

    with translation.override(language):
        at = date_format(timezone.localtime(decision.created_at), "SHORT_DATETIME_FORMAT")
    text = page_text(page)
    assert expected.format(at=at) in text


# --- the quick export's titles ----------------------------------------------------------------------------------

QUICK_HEADERS = {
    "en": [
        "Dossier number",
        "Birth name",
        "Usual name",
        "First name",
        "E-mail",
        "INE",
        "Centre",
        "Formation code",
        "Formation",
        "Dossier status",
        "Transmitted at",
        "Decision",
        "Decision validated",
        "Actual rank on the complementary list",
        "Answer",
        "Cancelled at",
        "Created at",
        "Tags",
        "Internal notes",
    ],
    "fr": [
        "Numéro de dossier",
        "Nom de naissance",
        "Nom d'usage",
        "Prénom",
        "Adresse mail",
        "INE",
        "Centre de candidature",
        "Code de la formation",
        "Formation",
        "Statut du dossier",
        "Transmise le",
        "Avis",
        "Avis validé",
        "Rang réel sur la liste complémentaire",
        "Réponse",
        "Annulée le",
        "Créée le",
        "Étiquettes",
        "Bloc-notes",
    ],
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_quick_export_titles_read_as_the_full_exports(
    client, django_assert_num_queries, settings, centre_manager, answered, language
):
    """« numéro de dossier », « nom patronymique »…: the list's lower-case labels, where the chosen-columns export
    writes column titles. Its answer column says what the list's cell says."""
    settings.EXPORT_NOTES = True  # the notes' column too (off by default: test_bulk_fixes_dec6.py)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_QUICK_EXPORT):
        response = client.get(reverse("admin:applications_application_export", args=["xlsx"]), language=language)

    rows = list(load_workbook(io.BytesIO(response.getvalue())).active.iter_rows(values_only=True))
    assert list(rows[0]) == QUICK_HEADERS[language]
    answers = {row[1]: row[14] for row in rows[1:]}
    withdrawn = {"en": "Withdrawn", "fr": "Désistée"}[language]
    assert answers["WITHDRAWN"] == withdrawn
