"""« Pièces à contrôler » (``has_pieces_to_check``, ``applications.admin.filters.with_list_data``): which pieces make
an application wait for a check, and the shape of the query PostgreSQL runs for it. In one ``EXISTS`` with an ``OR``
inside ("the application's own piece" or "a shared piece the formation asks for", with a join on the formation's
piece types), PostgreSQL compared every application with every transmitted piece: 20 to 50 s a page of the filtered
list, its sort, the dossier's previous/next and the home counter at 20,000 applications. Two ``EXISTS`` now, joined
by ``OR`` outside them; the rule they encode is the same."""

import re
from types import SimpleNamespace

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.admin.filters import with_list_data
from applications.enums import PieceStatus
from applications.models import Application
from applications.pieces import _submissions, listed_piece_types
from applications.tests.factories_candidature import PieceSubmissionFactory, make_application
from offers.tests.factories import FormationFactory, PieceTypeFactory


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(Application)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def world(formation, other_centre, campaign):
    """An application to ``formation``; another application of the same candidate, to a formation of another
    centre; two other candidates' applications to ``formation``, one of them (``idle``) never given a piece."""
    application = make_application(formation, campaign=campaign)
    elsewhere = make_application(FormationFactory(centre=other_centre), campaign=campaign)
    elsewhere.candidate = application.candidate
    Application.objects.filter(pk=elsewhere.pk).update(candidate=application.candidate)
    return SimpleNamespace(
        application=application,
        formation=formation,
        other_centre=other_centre,
        elsewhere=elsewhere,
        someone_else=make_application(formation, campaign=campaign),
        idle=make_application(formation, campaign=campaign),
    )


def own(world, status):
    PieceSubmissionFactory(application=world.application, piece_type=PieceTypeFactory(), status=status)


def shared(world, status=PieceStatus.SUBMITTED, *, candidate=None, asked_by=(), **piece_type):
    """A piece the candidate (or ``candidate``) shares between their applications, of a type ``piece_type``, listed
    by the formations ``asked_by``."""
    kind = PieceTypeFactory(**piece_type)
    for formation in asked_by:
        formation.piece_types.add(kind)
    PieceSubmissionFactory(
        application=None, candidate=candidate or world.application.candidate, piece_type=kind, status=status
    )


# case: (what the candidates have, whether the application waits for a check)
CASES = {
    "own piece transmitted": (lambda w: own(w, PieceStatus.SUBMITTED), True),
    "own piece validated": (lambda w: own(w, PieceStatus.VALIDATED), False),
    "own piece refused": (lambda w: own(w, PieceStatus.REFUSED), False),
    "own piece waiting": (lambda w: own(w, PieceStatus.WAITING), False),
    "own piece not concerned": (lambda w: own(w, PieceStatus.NOT_CONCERNED), False),
    "shared common piece of the institution": (lambda w: shared(w, is_common=True), True),
    "shared common piece of the institution, validated": (
        lambda w: shared(w, PieceStatus.VALIDATED, is_common=True),
        False,
    ),
    "shared common piece of the formation's centre": (
        lambda w: shared(w, is_common=True, centre=w.formation.centre),
        True,
    ),
    "shared common piece of another centre": (lambda w: shared(w, is_common=True, centre=w.other_centre), False),
    "shared common piece of another centre, though the formation lists it": (
        lambda w: shared(w, is_common=True, centre=w.other_centre, asked_by=[w.formation]),
        False,
    ),
    "shared piece the formation asks for": (lambda w: shared(w, asked_by=[w.formation]), True),
    "shared piece the formation and another ask for": (
        lambda w: shared(w, asked_by=[w.formation, w.elsewhere.formation]),
        True,
    ),
    "shared piece the formation asks for, refused": (
        lambda w: shared(w, PieceStatus.REFUSED, asked_by=[w.formation]),
        False,
    ),
    "shared piece only another formation asks for": (lambda w: shared(w, asked_by=[w.elsewhere.formation]), False),
    "shared piece no formation asks for": (lambda w: shared(w), False),
    "transmitted piece of the candidate's other application": (
        lambda w: PieceSubmissionFactory(application=w.elsewhere, piece_type=PieceTypeFactory()),
        False,
    ),
    "another candidate's own piece": (
        lambda w: PieceSubmissionFactory(application=w.someone_else, piece_type=PieceTypeFactory()),
        False,
    ),
    "another candidate's shared common piece": (
        lambda w: shared(w, candidate=w.someone_else.candidate, is_common=True),
        False,
    ),
    "another candidate's shared piece the formation asks for": (
        lambda w: shared(w, candidate=w.someone_else.candidate, asked_by=[w.formation]),
        False,
    ),
    "no piece": (lambda w: None, False),
}


@pytest.mark.parametrize(("build", "expected"), CASES.values(), ids=CASES.keys())
def test_which_pieces_make_an_application_wait_for_a_check(world, build, expected):
    """On SQLite and on PostgreSQL (DATABASE_URL): the flag, the filter on it (« Pièces à contrôler » oui / non)
    and the sort on it agree, whatever the formation's piece types multiply."""
    build(world)
    listed = with_list_data(Application.objects.filter(pk=world.application.pk))

    assert listed.get().has_pieces_to_check is expected
    assert list(listed.filter(has_pieces_to_check=True).values_list("pk", flat=True)) == (
        [world.application.pk] if expected else []
    )
    assert listed.filter(has_pieces_to_check=False).count() == (0 if expected else 1)
    assert listed.order_by("has_pieces_to_check").count() == 1  # no row duplicated by a join


def test_the_flag_agrees_with_the_pieces_the_dossier_shows(world):
    """Every case at once, over several applications: an application waits for a check exactly when the dossier
    page shows a transmitted piece of it (``listed_piece_types``: the types it asks for; ``_submissions``: its own
    pieces and the candidate's shared ones), or it has a transmitted piece of its own."""
    for build, _expected in CASES.values():
        build(world)

    flags = dict(with_list_data(Application.objects.all()).values_list("pk", "has_pieces_to_check"))

    def waits(application):
        asked = {kind.pk for kind in listed_piece_types(application)}
        return any(
            piece.status == PieceStatus.SUBMITTED
            and (piece.application_id == application.pk or piece.piece_type_id in asked)
            for piece in _submissions(application.pk, application.candidate_id)
        )

    expected = {application.pk: waits(application) for application in Application.objects.select_related("formation")}
    assert flags == expected
    assert flags == {
        world.application.pk: True,
        world.elsewhere.pk: True,
        world.someone_else.pk: True,
        world.idle.pk: False,
    }


def _plan(queryset) -> str:
    """PostgreSQL's plan of the ``COUNT(*)`` the list runs for ``queryset`` (the SQL Django sends, as sent)."""
    with CaptureQueriesContext(connection) as captured:
        queryset.count()
    (count,) = (query["sql"] for query in captured.captured_queries if "COUNT(" in query["sql"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE applications_piecesubmission")
        cursor.execute(f"EXPLAIN {count}")
        return "\n".join(row[0] for row in cursor.fetchall())


# A condition of the plan that puts the application's own piece and the candidate's shared one in one test: PostgreSQL
# then reads the transmitted pieces for every application (the Nested Loop Semi Join of the slow list).
OWN_OR_SHARED = re.compile(r"Filter: .*application_id = .* OR .*application_id IS NULL", re.IGNORECASE)


@pytest.mark.integration
@pytest.mark.parametrize("to_check", [True, False], ids=["to check", "not to check"])
def test_the_filtered_count_does_not_compare_every_application_with_every_piece(world, centre, to_check):
    """The list filtered on « Pièces à contrôler », as PostgreSQL plans it: no join filter (nor filter) with an
    ``OR`` over the piece table mixing the application's own pieces and the candidate's shared ones, no semi or anti
    join driven by one."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    for build, _expected in CASES.values():
        build(world)
    listed = with_list_data(Application.objects.filter(formation__centre=centre)).filter(has_pieces_to_check=to_check)

    plan = _plan(listed)

    assert "applications_piecesubmission" in plan
    assert not OWN_OR_SHARED.search(plan), plan
    assert not re.search(r"Nested Loop (Semi|Anti) Join", plan), plan
    assert listed.count() == (2 if to_check else 1)  # the application and someone else's; the idle one


def _list_with_pieces_to_check(rows, formation, campaign):
    """``rows`` applications waiting for a check: each with a transmitted piece of its own, every other one with a
    shared common piece too."""
    common = PieceTypeFactory(is_common=True)
    for index in range(rows):
        application = make_application(formation, campaign=campaign)
        PieceSubmissionFactory(application=application, piece_type=PieceTypeFactory())
        if index % 2:
            PieceSubmissionFactory(application=None, candidate=application.candidate, piece_type=common)
    make_application(formation, campaign=campaign)  # nothing to check: filtered out


@pytest.mark.parametrize("rows", [2, 20])
def test_the_filtered_list_query_count_does_not_grow(
    client, django_assert_num_queries, centre_manager, formation, campaign, rows
):
    _list_with_pieces_to_check(rows, formation, campaign)
    client.force_login(centre_manager)

    with django_assert_num_queries(20):
        response = client.get(reverse("admin:applications_application_changelist") + "?to_check=yes")

    assert len(response.context["cl"].result_list) == rows
    assert all(row.has_pieces_to_check for row in response.context["cl"].result_list)
