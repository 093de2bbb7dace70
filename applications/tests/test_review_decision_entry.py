"""« Saisir un avis » on the dossier's own page: the commission chose the motivation or the rank on a page of its own
that showed none of the dossier, two page loads a dossier. The section holds the operation page's form for whoever
may enter a decision, and no one else; sent from it, the avis is entered as from its page; refused, it comes back to
the section with each error next to its field. The operation page's breadcrumb keeps the list's filters."""

import re
from dataclasses import replace
from urllib.parse import urlencode

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from accounts.models import StaffRole
from accounts.tests.factories import StaffMembershipFactory
from applications.admin.operations import OPERATIONS
from applications.enums import EventKind
from applications.models import Decision, PieceSubmission
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, operation_url
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import CampaignFactory, FormationFactory

SECTION = '<section id="decision-entry" class="module">'
# The two lists of the form (decision types, refusal reasons): the page of whoever may not decide does not read them.
FORM_QUERIES = 2


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


@pytest.fixture
def reason(db):
    return RefusalReason.objects.create(code="CAP", label="Capacité d'accueil atteinte")


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(PieceSubmission)


@pytest.fixture
def other_commission_reader(centre, other_commission):
    """A member of the centre's other commission who also reads the centre's dossiers (read-only staff)."""
    membership = StaffMembershipFactory(commission_member=True, commission=other_commission, user__username="autre")
    StaffMembershipFactory(role=StaffRole.READ_ONLY, centre=centre, user=membership.user)
    return membership.user


def section(page: str) -> str:
    start = page.index(SECTION)
    return page[start : page.index("</section>", start)]


def entry_url(application, filters: str = "") -> str:
    url = operation_url(application, "enter_decision")
    return url + ("?" + urlencode({"_changelist_filters": filters}) if filters else "")


def posted(application, **fields) -> dict:
    """What the section's form posts: its hidden fields as the page holds them, and ``fields``."""
    latest = application.decisions.newest_first().values_list("pk", flat=True).first()
    return {"shown_decisions": f"{application.pk}:{latest or 0}", "_from_review": "1", **fields}


# --- who gets the section ----------------------------------------------------------------------------------------


# Whoever may decide, and the page's count: a centre manager's (REVIEW_PAGE_QUERIES, the form's lists included), a
# commission member's one more (test_admin_review), the central office's one more (the OPI).
DECIDERS = [("commission_member", 1), ("centre_manager", 0), ("central_manager", 1)]


@pytest.mark.parametrize(("persona", "more"), DECIDERS)
def test_whoever_may_decide_gets_the_form_under_the_avis_table(
    client, django_assert_num_queries, request, application, persona, more
):
    client.force_login(request.getfixturevalue(persona))
    filters = "decision=none&o=2"

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + more):
        page = client.get(change_url(application) + "?" + urlencode({"_changelist_filters": filters})).content.decode()

    entry = section(page)
    assert "<h2>Enter a decision</h2>" in entry
    # After the pieces and the avis already given, before the history.
    assert page.index('id="pieces"') < page.index('id="decisions"') < page.index(SECTION) < page.index('id="history"')
    # Posted to the operation's address, inside the list it was opened from.
    action = re.search(r'<form method="post" novalidate action="([^"]+)">', entry)
    assert action is not None
    assert action.group(1).replace("&amp;", "&") == entry_url(application, filters)
    assert '<input type="hidden" name="_from_review" value="1">' in entry
    # The decisions the page shows, against a double submit.
    assert f'name="shown_decisions" value="{application.pk}:0"' in entry
    assert '<input type="submit" class="default" value="Confirm">' in entry
    assert '<input type="submit" name="_next" value="Confirm and open the next application">' in entry
    assert "cancel-link" not in entry  # nothing to go back to: the dossier is the page
    assert "js/decision_form.js" in page  # only the chosen kind's fields (without it: every field)
    assert 'data-shown-for="DE"' in entry


def test_the_commission_members_page_costs_the_forms_two_lists_only(
    client, django_assert_num_queries, commission_member, application
):
    """The avis in force is said at the top (one query more for a commission member: REVIEW_PAGE_QUERIES + 1 in
    test_admin_review); the form holds the latest decision of the page's table, read with it (no query more),
    however many decisions the application has."""
    for avis in (Avis.WAITING_LIST, Avis.FAVOURABLE):
        staff.record_decision(
            application,
            decision_type=decision_type(avis),
            actor=commission_member,
        )
    latest = application.decisions.newest_first().first()
    client.force_login(commission_member)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 1):
        page = client.get(change_url(application)).content.decode()

    assert f'name="shown_decisions" value="{application.pk}:{latest.pk}"' in section(page)


# Readers who may not decide, and their page's count as it was before the section (when REVIEW_PAGE_QUERIES was 32,
# 30 and 33: their own scope checks, no tag-making right to read): the form's lists are not read for them.
READERS = [("read_only_staff", -2), ("other_commission_reader", 1)]


@pytest.mark.parametrize(("persona", "own"), READERS)
def test_readers_who_may_not_decide_get_no_form(client, django_assert_num_queries, request, application, persona, own):
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(REVIEW_PAGE_QUERIES - FORM_QUERIES + own):
        response = client.get(change_url(application))

    page = response.content.decode()
    assert response.status_code == 200
    assert SECTION not in page
    assert 'name="decision_type"' not in page
    assert "decision_form.js" not in page


def test_an_application_of_a_past_campaign_gets_no_form(
    client, django_assert_num_queries, centre_manager, formation, campaign
):
    past = make_application(formation, campaign=CampaignFactory(code="C2025", is_active=False))
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES - FORM_QUERIES):
        page = client.get(change_url(past)).content.decode()

    assert SECTION not in page
    assert 'name="decision_type"' not in page


def test_no_form_where_the_operation_is_not_offered(client, centre_manager, application, monkeypatch):
    """« Saisir un avis » not in use (an operation's ``enabled``): no section either."""
    monkeypatch.setitem(OPERATIONS, "enter_decision", replace(OPERATIONS["enter_decision"], enabled=lambda: False))
    client.force_login(centre_manager)

    page = client.get(change_url(application)).content.decode()

    assert SECTION not in page


@pytest.mark.parametrize("persona", ["other_centre_manager"])
def test_outsiders_still_get_a_404(client, request, application, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(change_url(application)).status_code == 404


def test_the_fields_ids_are_unique_on_the_page(client, centre_manager, application):
    """The pieces' checks, the note and the tags are forms of the page too: the section's ids start with its own."""
    client.force_login(centre_manager)

    page = client.get(change_url(application)).content.decode()

    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    entry = section(page)
    assert 'id="decision-entry-decision_type"' in entry
    assert '<label for="decision-entry-refusal_reason">' in entry


# --- sent from the section ---------------------------------------------------------------------------------------


def test_the_avis_sent_from_the_section_is_entered_and_the_dossier_comes_back(
    client, commission_member, application, reason
):
    client.force_login(commission_member)
    filters = "decision=none"

    response = client.post(
        entry_url(application, filters),
        posted(application, decision_type=decision_type(Avis.UNFAVOURABLE).pk, refusal_reason=reason.pk),
    )

    assert response.status_code == 302
    # Back at the Avis table, which shows the avis now (the page reopened at its top before).
    assert response.url == change_url(application) + "?" + urlencode({"_changelist_filters": filters}) + "#decisions"
    decision = Decision.objects.get(application=application)
    assert (decision.decision_type.avis, decision.refusal_reason, decision.created_by) == (
        Avis.UNFAVOURABLE,
        reason,
        commission_member,
    )
    event = application.events.get(kind=EventKind.DECISION_ENTERED)
    assert event.actor == commission_member
    page = client.get(response.url).content.decode()
    assert f"Enter a decision: done for {application.candidate.staff_name}" in page
    assert "Capacité d&#x27;accueil atteinte" in page.split('id="decisions"')[1].split("</section>")[0]


def test_confirm_and_open_the_next_one_from_the_section(client, commission_member, formation, campaign):
    first, second = make_application(formation, campaign=campaign), make_application(formation, campaign=campaign)
    first, second = sorted([first, second], key=lambda application: application.candidate.user.username)
    client.force_login(commission_member)
    filters = "o=2"

    response = client.post(
        entry_url(first, filters), posted(first, decision_type=decision_type(Avis.FAVOURABLE).pk, _next="1")
    )

    assert response.url == change_url(second) + "?" + urlencode({"_changelist_filters": filters})
    assert first.decisions.get().created_by == commission_member


def test_an_unfavourable_avis_without_reason_comes_back_to_the_section_with_its_error(
    client, django_assert_num_queries, commission_member, application, reason
):
    client.force_login(commission_member)
    filters = "decision=none"
    unfavourable = decision_type(Avis.UNFAVOURABLE)

    data = posted(application, decision_type=unfavourable.pk, comment="Dossier léger")

    # Session, account, scope, the application, its chosen type; then the session written (the entry kept in it).
    with django_assert_num_queries(11):
        response = client.post(entry_url(application, filters), data)

    assert response.status_code == 302
    # Back to the section's error summary (its anchor): without JavaScript too, the next Tab starts from it.
    assert response.url == change_url(application) + "?" + urlencode({"_changelist_filters": filters}) + (
        "#operation-errors"
    )
    assert not Decision.objects.exists()
    # A member's page (one more), the form checked again (its chosen type read) and the session written (the entry
    # taken out of it: a savepoint, its update, its release).
    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 1 + 1 + 3):
        page = client.get(response.url).content.decode()
    assert re.search(r"<title>Error: ", page)
    entry = section(page)
    summary = re.search(
        r'<div class="errornote" id="operation-errors" role="alert" tabindex="-1">(.*?)</div>', entry, re.S
    )
    assert summary is not None
    assert "<p>Please correct the error below.</p>" in summary.group(1)
    # One link, to the field in error (its id in the section: the page's other forms have a "comment" too).
    assert re.findall(r"<li>.*?</li>", summary.group(1)) == [
        (
            '<li><a href="#decision-entry-refusal_reason">Reason (unfavourable decision): An unfavourable decision '
            "needs a reason.</a></li>"
        )
    ]
    error = re.search(r'<ul class="errorlist" id="decision-entry-refusal_reason_error">(.*?)</ul>', entry)
    assert error is not None
    assert "An unfavourable decision needs a reason." in error.group(1)
    field = re.search(r'<select name="refusal_reason"[^>]*>', entry)
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="decision-entry-refusal_reason_error"' in field.group(0)
    # What was typed and chosen is kept.
    assert "Dossier léger</textarea>" in entry
    assert f'<option value="{unfavourable.pk}" selected lang="fr" data-avis="DE">' in entry
    # Once: the page opened again has an empty form.
    again = section(client.get(change_url(application)).content.decode())
    assert "errorlist" not in again
    assert "Dossier léger" not in again


def test_a_second_send_comes_back_to_the_section_with_the_refusal(client, commission_member, application):
    """A double click, or a colleague's avis entered meanwhile: refused, said above the fields; the form now holds
    the avis the page shows, so that a second « Confirmer », once it is read, enters the new one."""
    client.force_login(commission_member)
    shown = posted(application, decision_type=decision_type(Avis.FAVOURABLE).pk)
    client.post(entry_url(application), shown)
    entered = Decision.objects.get()

    response = client.post(entry_url(application), shown)

    assert response.url == change_url(application) + "#operation-errors"
    assert Decision.objects.count() == 1
    entry = section(client.get(response.url).content.decode())
    # The refusal concerns no one field: said as text in the summary, and not a second time in the form.
    summary = re.search(
        r'<div class="errornote" id="operation-errors" role="alert" tabindex="-1">(.*?)</div>', entry, re.S
    )
    assert summary is not None
    refusal = re.findall(r"<li>(.*?)</li>", summary.group(1))
    assert len(refusal) == 1
    assert "<a " not in refusal[0]
    assert "errorlist" not in entry
    assert f'name="shown_decisions" value="{application.pk}:{entered.pk}"' in entry


def test_a_refusal_is_not_shown_on_another_dossier(client, commission_member, application, formation, campaign):
    other = make_application(formation, campaign=campaign)
    client.force_login(commission_member)
    client.post(entry_url(application), posted(application, decision_type=decision_type(Avis.UNFAVOURABLE).pk))

    entry = section(client.get(change_url(other)).content.decode())

    assert "errorlist" not in entry


def test_the_operation_page_itself_still_shows_its_errors(client, commission_member, application):
    """Sent from « Saisir un avis »'s own page (no ``_from_review``): the page again, as before."""
    client.force_login(commission_member)

    response = client.post(
        entry_url(application), {"decision_type": decision_type(Avis.UNFAVOURABLE).pk, "shown_decisions": ""}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_refusal_reason_error"' in page
    assert f'<a href="{change_url(application)}" class="button cancel-link">' in page


# --- the operation page's breadcrumb -----------------------------------------------------------------------------


def test_the_operation_pages_breadcrumb_keeps_the_lists_filters(client, commission_member, application):
    client.force_login(commission_member)
    filters = "decision=none&o=2"

    page = client.get(entry_url(application, filters)).content.decode()

    crumbs = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', page, re.S)
    assert crumbs is not None
    changelist = reverse("admin:applications_application_changelist")
    assert f'<a href="{changelist}?decision=none&amp;o=2">Applications</a>' in crumbs.group(1)


def test_without_filters_the_breadcrumb_is_the_list(client, commission_member, application):
    client.force_login(commission_member)

    page = client.get(entry_url(application)).content.decode()

    changelist = reverse("admin:applications_application_changelist")
    assert f'<li><a href="{changelist}">Applications</a></li>' in page


def test_a_selections_breadcrumb_is_the_list_it_was_posted_from(client, centre_manager, application):
    client.force_login(centre_manager)
    changelist = reverse("admin:applications_application_changelist")

    page = client.post(
        changelist + "?decision=none&o=2",
        {"action": "action_enter_decision", "_selected_action": [application.pk]},
    ).content.decode()

    assert f'<a href="{changelist}?decision=none&amp;o=2">Applications</a>' in page
