"""The dossier's « Avis » table and its « Saisir un avis » form, as a commission member reads them. A preselection's
date, time and place were shown on « Saisir un avis »'s own page only: the table said the comment alone, even once
the preselection was validated. And the form's « Commentaire » said nothing of who reads it, right above the
« Bloc-notes » that says « jamais par le candidat »: for the decision types that show it, the comment goes into the
candidate's mail, letter and application page."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from applications.models import Decision
from applications.services import staff
from applications.tests.factories_candidature import DecisionTypeFactory, make_application
from applications.tests.helpers import RELEASED_REVIEW_PAGE_QUERIES, REVIEW_PAGE_QUERIES, change_url, operation_url
from offers.enums import Avis
from offers.tests.factories import FormationFactory

# A commission member's dossier page costs one query more than a centre manager's (test_admin_review).
MEMBER = 1
TABLE = '<section id="decisions" class="module">'
ENTRY = '<section id="decision-entry" class="module">'


@pytest.fixture(autouse=True)
def _december_2026():
    """Entered in December 2026, a preselection of January 2027 is within the form's bounds."""
    with time_machine.travel(datetime.datetime(2026, 12, 7, 9, 0, tzinfo=timezone.get_current_timezone())):
        yield


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


@pytest.fixture
def preselection(db):
    return DecisionTypeFactory(code="PRESEL", label="Présélection", avis=Avis.PRESELECTION)


def section(page: str, start_tag: str) -> str:
    start = page.index(start_tag)
    return page[start : page.index("</section>", start)]


def comment_field(page: str) -> tuple[str, str]:
    """The section's comment textarea (its opening tag) and the help under it (its whole element)."""
    entry = section(page, ENTRY)
    textarea = re.search(r"<textarea [^>]*>", entry)
    help_text = re.search(r'<div class="help" id="decision-entry-comment_helptext">.*?</div>', entry)
    assert textarea is not None
    assert help_text is not None
    return textarea.group(0), help_text.group(0)


# --- F1: the preselection in the Avis table ------------------------------------------------------------------------


def test_the_preselection_entered_from_the_dossier_says_its_date_time_and_place_in_the_avis_table(
    client, django_assert_num_queries, commission_member, centre_manager, application, preselection
):
    client.force_login(commission_member)
    entered = client.post(
        operation_url(application, "enter_decision"),
        {
            "shown_decisions": f"{application.pk}:0",
            "_from_review": "1",
            "decision_type": preselection.pk,
            "preselection_date": "2027-01-15",
            "preselection_time": "10:30",
            "preselection_place": "Salle B12, bâtiment C",
            "comment": "Entretien à prévoir",
        },
    )
    assert entered.status_code == 302
    client.get(entered.url)  # the page the member is sent back to, with its « done » message

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + MEMBER):  # as test_admin_review's: the row's own columns
        page = client.get(change_url(application), language="fr").content.decode()

    # In the local time (Paris: 09:30 UTC), as « Saisir un avis » says it, before the comment.
    details = '<td class="review-decision-details">'
    details += '<span><time datetime="2027-01-15T10:30:00+0100">15/01/2027 10:30</time> Salle B12, bâtiment C</span>'
    details += "<span>Entretien à prévoir</span></td>"
    assert details in section(page, TABLE)

    staff.validate_decision(Decision.objects.get(application=application), actor=centre_manager)

    with django_assert_num_queries(RELEASED_REVIEW_PAGE_QUERIES + MEMBER):  # the mails about it, once validated
        page = client.get(change_url(application), language="fr").content.decode()

    assert details in section(page, TABLE)


def test_a_decision_of_another_kind_says_no_convocation(
    client, django_assert_num_queries, commission_member, application
):
    favourable = DecisionTypeFactory(code="FAV", label="Favorable", avis=Avis.FAVOURABLE)
    staff.record_decision(application, decision_type=favourable, actor=commission_member, comment="Très bon dossier")
    client.force_login(commission_member)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + MEMBER):
        page = client.get(change_url(application), language="fr").content.decode()

    table = section(page, TABLE)
    assert '<td class="review-decision-details"><span>Très bon dossier</span></td>' in table
    assert "<time" not in table.split('class="review-decision-details"')[1].split("</td>")[0]


# --- F2: who reads the comment ------------------------------------------------------------------------------------


def test_the_comment_says_for_which_types_the_candidate_reads_it(
    client, django_assert_num_queries, commission_member, application, preselection
):
    """Named as the list names them, marked French in the English back office, in the list's order; a type out of
    service is not in the list, and not in the sentence either."""
    DecisionTypeFactory(code="DEF", label="Défavorable <motivé> & signé", avis=Avis.UNFAVOURABLE, show_comment=True)
    DecisionTypeFactory(code="LC", label="Liste complémentaire", avis=Avis.COMPLEMENTARY_LIST, show_comment=True)
    DecisionTypeFactory(code="OLD", label="Ancien refus", avis=Avis.UNFAVOURABLE, show_comment=True, in_service=False)
    DecisionTypeFactory(code="FAV", label="Favorable", avis=Avis.FAVOURABLE)
    client.force_login(commission_member)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + MEMBER):  # the help read from the form's list of types
        page = client.get(change_url(application)).content.decode()

    textarea, help_text = comment_field(page)
    assert 'aria-describedby="decision-entry-comment_helptext"' in textarea
    assert help_text == (
        '<div class="help" id="decision-entry-comment_helptext">Read by the candidate (mail, letter, their '
        'application) for: <span lang="fr">Défavorable &lt;motivé&gt; &amp; signé</span>, '
        '<span lang="fr">Liste complémentaire</span>. Internal for the other decisions.</div>'
    )


def test_the_comment_says_it_is_never_shown_when_no_type_shows_it(
    client, django_assert_num_queries, commission_member, application, preselection
):
    client.force_login(commission_member)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + MEMBER):
        page = client.get(change_url(application)).content.decode()

    textarea, help_text = comment_field(page)
    assert 'aria-describedby="decision-entry-comment_helptext"' in textarea
    assert help_text == '<div class="help" id="decision-entry-comment_helptext">Never shown to the candidate.</div>'


@pytest.mark.usefixtures("back_office_in_french")
def test_the_comment_help_in_french(client, commission_member, application):
    unfavourable = DecisionTypeFactory(code="DEF", label="Défavorable", avis=Avis.UNFAVOURABLE, show_comment=True)
    client.force_login(commission_member)

    page = client.get(change_url(application), language="fr").content.decode()
    unfavourable.show_comment = False
    unfavourable.save(update_fields=["show_comment"])
    none_shown = client.get(change_url(application), language="fr").content.decode()

    assert comment_field(page)[1] == (
        '<div class="help" id="decision-entry-comment_helptext">Lu par le candidat (mail, lettre, sa candidature) '
        'pour : <span lang="fr">Défavorable</span>. Interne pour les autres avis.</div>'
    )
    assert comment_field(none_shown)[1] == (
        '<div class="help" id="decision-entry-comment_helptext">Jamais montré au candidat.</div>'
    )


def test_the_operation_page_and_a_selection_say_it_too(
    client, django_assert_num_queries, commission_member, formation, campaign, application
):
    """« Saisir un avis »'s own page (its count as in test_admin_duplicate_decision, with no decision: the form's
    lists read once) and a selection's page."""
    DecisionTypeFactory(code="DEF", label="Défavorable", avis=Avis.UNFAVOURABLE, show_comment=True)
    other = make_application(formation, campaign=campaign)
    client.force_login(commission_member)

    with django_assert_num_queries(12):
        page = client.get(operation_url(application, "enter_decision")).content.decode()
    selection = client.post(
        reverse("admin:applications_application_changelist"),
        {"action": "action_enter_decision", "_selected_action": [application.pk, other.pk]},
    ).content.decode()

    for shown in (page, selection):
        assert re.search(r'<textarea [^>]*aria-describedby="id_comment_helptext"', shown)
        assert (
            '<div class="help" id="id_comment_helptext">Read by the candidate (mail, letter, their application) '
            'for: <span lang="fr">Défavorable</span>. Internal for the other decisions.</div>'
        ) in shown
