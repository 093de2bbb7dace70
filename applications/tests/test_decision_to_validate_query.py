"""« Par décision » with « Décision à valider » (``DecisionFilter``, ``DecisionValidatedFilter``,
``applications.admin.filters``): the rows they give, alone, together and with the list's other filters, and the shape
of the query PostgreSQL runs for them. « Décision à valider » was two conditions on two subqueries (an avis; no
validation date); beside « Décision = Favorable » PostgreSQL multiplied three estimates (0.5 % × 99.5 % × 0.5 % of the
applications: one row for thousands) and read the candidates and their accounts whole for each row (22 to 25 s a page
at 20,000 applications, 92 s at 40,000: past the workers' timeout). It is one condition on one subquery now
(``current_avis_to_validate``); the rows are the same."""

import datetime
import itertools
import json
import re
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.admin.filters import DecisionFilter, DecisionValidatedFilter
from applications.models import Application, Candidate, Decision
from applications.tests.factories_candidature import PieceSubmissionFactory, decision_type, make_application
from ecandidat.admin_base import changelist_of
from offers.enums import Avis
from offers.tests.factories import FormationFactory

CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


def decided(application, *steps):
    """Decisions of ``application``, oldest first: each step ``(avis, validated)``, or ``(avis, validated, at)`` to
    date it (``at``: minutes after a fixed moment; the same minute twice: the later id is the latest)."""
    start = timezone.now() - datetime.timedelta(days=1)
    for rank, (avis, validated, *at) in enumerate(steps):
        decision = Decision.objects.create(application=application, decision_type=decision_type(avis))
        minutes = at[0] if at else rank
        Decision.objects.filter(pk=decision.pk).update(
            created_at=start + datetime.timedelta(minutes=minutes),
            validated_at=start + datetime.timedelta(minutes=minutes + 1) if validated else None,
        )


@pytest.fixture
def world(formation, other_centre, campaign):
    """Applications to ``formation`` with every history of decisions the two filters tell apart, and some to a
    formation of another centre."""
    elsewhere = FormationFactory(centre=other_centre)
    histories = {
        "no decision": [],
        "favourable to validate": [(Avis.FAVOURABLE, False)],
        "favourable validated": [(Avis.FAVOURABLE, True)],
        "unfavourable to validate": [(Avis.UNFAVOURABLE, False)],
        "unfavourable validated": [(Avis.UNFAVOURABLE, True)],
        "favourable validated, then unfavourable to validate": [(Avis.FAVOURABLE, True), (Avis.UNFAVOURABLE, False)],
        "unfavourable validated, then favourable to validate": [(Avis.UNFAVOURABLE, True), (Avis.FAVOURABLE, False)],
        "favourable to validate, then complementary list validated": [
            (Avis.FAVOURABLE, False),
            (Avis.COMPLEMENTARY_LIST, True),
        ],
        "favourable to validate, then favourable validated": [(Avis.FAVOURABLE, False), (Avis.FAVOURABLE, True)],
        "favourable validated, then favourable to validate": [(Avis.FAVOURABLE, True), (Avis.FAVOURABLE, False)],
        "same moment: favourable validated, then waiting list to validate": [
            (Avis.FAVOURABLE, True, 5),
            (Avis.WAITING_LIST, False, 5),
        ],
        "a later one entered first: preselection to validate dated after favourable validated": [
            (Avis.PRESELECTION, False, 9),
            (Avis.FAVOURABLE, True, 3),
        ],
    }
    applications = {}
    for name, steps in histories.items():
        applications[name] = make_application(formation, campaign=campaign)
        decided(applications[name], *steps)
    applications["elsewhere, favourable to validate"] = make_application(elsewhere, campaign=campaign)
    decided(applications["elsewhere, favourable to validate"], (Avis.FAVOURABLE, False))
    applications["elsewhere, favourable validated"] = make_application(elsewhere, campaign=campaign)
    decided(applications["elsewhere, favourable validated"], (Avis.FAVOURABLE, True))
    applications["elsewhere, no decision"] = make_application(elsewhere, campaign=campaign)
    # « Pièces à contrôler »: a transmitted piece of its own, on some of each kind.
    for name in ("no decision", "favourable to validate", "favourable validated", "unfavourable to validate"):
        PieceSubmissionFactory(application=applications[name])
    # The search: one name, on an application of each kind.
    named = ("favourable to validate", "favourable validated", "no decision", "elsewhere, favourable to validate")
    Candidate.objects.filter(applications__in=[applications[name].pk for name in named]).update(birth_name="ZÉBULON")
    return SimpleNamespace(applications=applications, formation=formation, elsewhere=elsewhere)


def current_of(application_ids) -> dict[int, Decision | None]:
    """Each application's latest decision, as the list defines it (newest ``created_at``, then ``id``), read in
    Python from every decision row."""
    current: dict[int, Decision | None] = dict.fromkeys(application_ids)
    for decision in Decision.objects.select_related("decision_type"):
        latest = current[decision.application_id]
        if latest is None or (decision.created_at, decision.pk) > (latest.created_at, latest.pk):
            current[decision.application_id] = decision
    return current


def expected(current, decision_choice, validated_choice) -> set[int]:
    """The applications the two filters keep, as they were defined: « Aucune décision »: no decision; an avis: the
    latest decision's; « Décision validée »: the latest decision validated; « Décision à valider »: a latest decision
    not validated. Any other value filters nothing."""

    def kept(latest):
        avis = latest.decision_type.avis if latest else None
        if decision_choice == "none" and latest is not None:
            return False
        if decision_choice in Avis.values and avis != decision_choice:
            return False
        if validated_choice == "yes" and not (latest and latest.validated_at):
            return False
        return not (validated_choice == "no" and not (latest and latest.validated_at is None))

    return {pk for pk, latest in current.items() if kept(latest)}


def changelist(user, params):
    """The list's ``ChangeList`` for ``params``: its queryset is what the page, its count, the exports and the
    actions on « tout sélectionner » read."""
    request = RequestFactory().get(reverse(CHANGELIST), {key: value for key, value in params.items() if value})
    request.user = user
    return changelist_of(admin.site._registry[Application], request)


DECISIONS = [None, "none", *Avis.values, "XX"]
VALIDATED = [None, "yes", "no", "maybe"]


def test_every_combination_of_the_two_filters_keeps_the_same_rows(world, central_manager):
    """On SQLite and on PostgreSQL (DATABASE_URL): every choice of « Par décision » with every choice of « Par
    décision validée », over applications with no decision, one, or several (validated or not, the latest entered
    first, two at the same moment)."""
    current = current_of(Application.objects.values_list("pk", flat=True))
    assert expected(current, "FA", "no") == {
        world.applications[name].pk
        for name in (
            "favourable to validate",
            "unfavourable validated, then favourable to validate",
            "favourable validated, then favourable to validate",
            "elsewhere, favourable to validate",
        )
    }  # the oracle itself, once by hand

    for decision_choice, validated_choice in itertools.product(DECISIONS, VALIDATED):
        params = {"decision": decision_choice, "validated": validated_choice}
        rows = set(changelist(central_manager, params).queryset.values_list("pk", flat=True))
        assert rows == expected(current, decision_choice, validated_choice), params


OTHERS = {
    "formation": lambda world: {"formation": str(world.formation.pk)},
    "other centre": lambda world: {"centre": str(world.elsewhere.centre_id)},
    "search": lambda world: {"q": "zebulon"},
    "pieces to check": lambda world: {"to_check": "yes"},
    "no piece to check": lambda world: {"to_check": "no"},
}


@pytest.mark.parametrize("other", OTHERS.values(), ids=OTHERS.keys())
def test_the_two_filters_with_the_others_keep_the_same_rows(world, central_manager, other):
    """With the formation, the centre, the search and « Pièces à contrôler »: the rows of that filter alone, less
    those the two decision filters leave out."""
    current = current_of(Application.objects.values_list("pk", flat=True))
    alone = set(changelist(central_manager, other(world)).queryset.values_list("pk", flat=True))
    assert 0 < len(alone) < len(current)

    for decision_choice, validated_choice in itertools.product([None, "none", "FA", "DE"], [None, "yes", "no"]):
        params = {"decision": decision_choice, "validated": validated_choice, **other(world)}
        rows = set(changelist(central_manager, params).queryset.values_list("pk", flat=True))
        assert rows == alone & expected(current, decision_choice, validated_choice), params


@pytest.mark.parametrize("validated_choice", ["yes", "no"])
def test_the_facets_count_each_filter_beside_the_other(world, central_manager, validated_choice):
    """The counts beside the choices (« Afficher les nombres », ``_facets``): each choice of one filter counted with
    the other's choice, as the list would show it once chosen."""
    current = current_of(Application.objects.values_list("pk", flat=True))
    cl = changelist(central_manager, {"decision": "FA", "validated": validated_choice, "_facets": "1"})
    specs = {type(spec): spec for spec in cl.filter_specs}

    decision_counts = specs[DecisionFilter].get_facet_queryset(cl)
    validated_counts = specs[DecisionValidatedFilter].get_facet_queryset(cl)

    decision_choices = [lookup for lookup, _label in specs[DecisionFilter].lookup_choices]
    assert {choice: decision_counts[f"{index}__c"] for index, choice in enumerate(decision_choices)} == {
        choice: len(expected(current, choice, validated_choice)) for choice in decision_choices
    }
    assert validated_counts == {
        "0__c": len(expected(current, "FA", "yes")),
        "1__c": len(expected(current, "FA", "no")),
    }


def _bulk_applications(count, formation, campaign):
    """``count`` applications (their accounts and dossiers in bulk): a third without a decision, the others with a
    decision of each avis in turn, every other one validated."""
    users = User.objects.bulk_create(
        [
            User(username=f"bulk{index:05d}", email=f"bulk{index}@example.org", campaign=campaign)
            for index in range(count)
        ]
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
        ]
    )
    applications = Application.objects.bulk_create(
        [
            Application(candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user)
            for candidate in candidates
        ]
    )
    types = [decision_type(avis) for avis in Avis]
    now = timezone.now()
    Decision.objects.bulk_create(
        [
            Decision(
                application=application,
                decision_type=types[index % len(types)],
                validated_at=now if index % 2 else None,
            )
            for index, application in enumerate(applications)
            if index % 3
        ]
    )


def _plans(queryset) -> list[dict]:
    """PostgreSQL's plans (run, with their actual rows) of the two queries the list's page sends for ``queryset``:
    its count and its page of rows (the SQL Django sends, as sent), the tables analysed first as they are in
    service."""
    with connection.cursor() as cursor:
        for table in ("applications_application", "applications_candidate", "accounts_user", "applications_decision"):
            cursor.execute(f"ANALYZE {table}")
    with CaptureQueriesContext(connection) as captured:
        queryset.count()
        next(iter(queryset[:50]))  # the page's rows; what they prefetch is left out
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries[:2]:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
            (plan,) = cursor.fetchone()
            ((root,),) = [json.loads(plan) if isinstance(plan, str) else plan]
            plans.append(root["Plan"])
    return plans


def _nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


# Enough rows that PostgreSQL's estimate tells one avis (0.5 %: 20 rows) from the former product (one row), and that
# a join reading the candidates whole for each row kept shows (the page's plan at 1,000 rows still did, on 5 rows
# estimated for 66).
APPLICATIONS_ROWS = 4000


@pytest.mark.integration
@pytest.mark.parametrize("avis", ["FA", "DE"])
def test_the_combined_filter_is_estimated_on_one_avis_not_a_product(formation, campaign, central_manager, avis):
    """« Décision = <avis> » with « Décision à valider », as PostgreSQL plans the list's count: the applications
    kept are estimated as the rows of one avis (0.5 % of the table, a default PostgreSQL applies to a condition on a
    subquery), not a product of three such estimates (one row: then the candidates and their accounts are read whole
    for each application kept); and no join reads every candidate, or every account, for each application."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    _bulk_applications(APPLICATIONS_ROWS, formation, campaign)
    cl = changelist(central_manager, {"decision": avis, "validated": "no"})

    count_plan, page_plan = _plans(cl.queryset)

    for plan in (count_plan, page_plan):
        scans = [node for node in _nodes(plan) if node.get("Relation Name") == "applications_application"]
        (estimated,) = [node["Plan Rows"] for node in scans if "SubPlan" in node.get("Filter", "")]
        assert estimated >= APPLICATIONS_ROWS * 0.004, json.dumps(plan, indent=1)
    assert not [
        node
        for node in _nodes(page_plan)
        if node.get("Rows Removed by Join Filter", 0) > APPLICATIONS_ROWS
        and re.search(r"candidate_id|user_id", node.get("Join Filter", ""))
    ], json.dumps(page_plan, indent=1)
    kind = list(Avis.values).index(avis)
    to_validate = [i for i in range(APPLICATIONS_ROWS) if i % 3 and i % len(Avis) == kind and not i % 2]
    assert cl.queryset.count() == len(to_validate)


def _applications_to_validate(rows, formation, campaign):
    """``rows`` favourable decisions to validate, one of them after a validated one; an application with a validated
    favourable decision and one without a decision: filtered out."""
    for index in range(rows):
        decided(
            make_application(formation, campaign=campaign),
            *([(Avis.FAVOURABLE, True)] if index == 0 else []),
            (Avis.FAVOURABLE, False),
        )
    decided(make_application(formation, campaign=campaign), (Avis.FAVOURABLE, True))
    make_application(formation, campaign=campaign)


@pytest.mark.parametrize("rows", [2, 20])
def test_the_filtered_list_query_count_does_not_grow(
    client, django_assert_num_queries, central_manager, formation, campaign, rows
):
    _applications_to_validate(rows, formation, campaign)
    client.force_login(central_manager)

    with django_assert_num_queries(20):
        response = client.get(reverse(CHANGELIST) + "?decision=FA&validated=no")

    assert len(response.context["cl"].result_list) == rows
    assert all(
        row.current_avis == "FA" and row.current_validated_at is None for row in response.context["cl"].result_list
    )
