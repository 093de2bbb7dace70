"""Releasing several complementary-list decisions of one formation together, with the rang réel in their mails.

Each validation recomputes the rangs réels and its mail gives the application's (``WAITING_LIST_RANK_DISPLAY=R``),
which becomes the rank the candidate was last told (``waiting_list_rank_mailed``). Validated in pk order, a candidate
entered 2 whose application is older than the one entered 1 was mailed « rang 1 », then became 2 while still told 1,
and the nightly progress mail, counting from it, never corrected it; the preview, each validation run alone, showed
« rang 1 » to both. The release now validates in the list's own order (``release.release_order``), the page, the
preview and the background job alike, and the preview runs the validations one after the other as the release does.
"""

import threading

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from applications.models import Application
from applications.services import release, staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import mails
from offers.enums import Avis
from offers.models import Formation
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture(autouse=True)
def _rang_reel(settings):
    settings.WAITING_LIST_RANK_DISPLAY = "R"


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


def entered(formation, campaign, actor, avis=Avis.COMPLEMENTARY_LIST, **fields) -> Application:
    """A new application with a decision of ``avis`` entered by ``actor``, not validated."""
    application = make_application(formation, campaign=campaign)
    staff.record_decision(application, decision_type=decision_type(avis), actor=actor, **fields)
    return application


@pytest.fixture
def crosswise(formation, campaign, commission_member) -> tuple[Application, Application]:
    """Two complementary-list decisions of one formation: the older application entered rank 2, the newer rank 1."""
    second = entered(formation, campaign, commission_member, rank=2)
    first = entered(formation, campaign, commission_member, rank=1)
    assert second.pk < first.pk
    return second, first


def mailed_rank(application) -> str:
    """The rank the complementary-list mail of ``application`` gives, from its sentence."""
    [mail] = [mail for mail in mails("AVIS_LISTE_COMP") if mail.to == application.candidate.user.email]
    return rank_in(mail.body)


def rank_in(body: str) -> str:
    return body.split("au rang ", 1)[1].split(".", 1)[0]


def ranks(*applications) -> list[tuple[int | None, int | None]]:
    """(rang réel, the rank last told) of each application, as stored."""
    rows = dict(
        Application.objects.filter(pk__in=[application.pk for application in applications]).values_list(
            "pk", "waiting_list_rank"
        )
    )
    told = dict(Application.objects.values_list("pk", "waiting_list_rank_mailed"))
    return [(rows[application.pk], told[application.pk]) for application in applications]


def selection(*applications) -> dict:
    return {"action": "action_validate_decisions", "_selected_action": [row.pk for row in applications]}


def test_the_page_previews_and_mails_each_candidate_the_rank_they_keep(
    client, crosswise, centre_manager, django_assert_num_queries
):
    second, first = crosswise
    client.force_login(centre_manager)

    # 2 more than each validation previewed alone (59): the formation locked first (1); both validations in one
    # savepoint, each in its own (SAVEPOINT, ROLLBACK TO, RELEASE, then 2 each), not each rolled back (3 each). The
    # selection's order comes with it, in the same query.
    with django_assert_num_queries(61):
        response = client.post(reverse(CHANGELIST), selection(second, first), language="fr")

    previews = response.context["release_previews"]
    assert [preview.application.pk for preview in previews] == [first.pk, second.pk]  # the list's order
    assert [preview.refusal for preview in previews] == ["", ""]
    assert [rank_in(preview.mails[0].body) for preview in previews] == ["1", "2"]  # not 1 and 1
    assert mails("AVIS_LISTE_COMP") == []  # nothing stays

    # As in pk order: the order's keys come with the selection. +2: the user's releases serialised (their row locked)
    # and the selection's decisions read, validated by them already or not (``release.released_by``: a double click).
    with django_assert_num_queries(55):
        client.post(reverse(CHANGELIST), {**selection(second, first), "apply": "1"}, language="fr")

    assert (mailed_rank(first), mailed_rank(second)) == ("1", "2")
    assert ranks(first, second) == [(1, 1), (2, 2)]  # the recap's rang réel, and the rank the candidate was told
    sent = {mail.to: (mail.subject, mail.body) for mail in mails("AVIS_LISTE_COMP")}
    assert {preview.mails[0].to: (preview.mails[0].subject, preview.mails[0].body) for preview in previews} == sent


def test_the_recap_shows_the_rank_the_mail_gave(client, crosswise, centre_manager):
    second, first = crosswise
    client.force_login(centre_manager)
    client.post(reverse(CHANGELIST), {**selection(second, first), "apply": "1"}, language="fr")
    second.refresh_from_db()
    client.force_login(second.candidate.user)

    response = client.get(reverse("applications:detail", args=[second.public_id]), language="fr")

    assert mailed_rank(second) == "2"
    assert f"2 (au {second.waiting_list_rank_at.astimezone().strftime('%d/%m/%Y')})" in response.text


def test_the_background_release_mails_each_candidate_the_rank_they_keep(crosswise, centre_manager):
    second, first = crosswise
    previews = release.preview_release([second, first], actor=centre_manager)

    job = release.request_release(actor=centre_manager, application_ids=[second.pk, first.pk])
    release.run_release(job.pk)  # queued on commit (run by then where tasks run eagerly: this one is then a no-op)

    job.refresh_from_db()
    assert (job.done, job.refusals) == (2, [])
    assert (mailed_rank(first), mailed_rank(second)) == ("1", "2")
    assert ranks(first, second) == [(1, 1), (2, 2)]
    assert [(preview.application.pk, rank_in(preview.mails[0].body)) for preview in previews] == [
        (first.pk, "1"),
        (second.pk, "2"),
    ]
    sent = {mail.to: mail.body for mail in mails("AVIS_LISTE_COMP")}
    assert {preview.mails[0].to: preview.mails[0].body for preview in previews} == sent


def test_a_refused_preview_is_undone_alone(settings, formation, campaign, commission_member, centre_manager):
    """Under the two-person rule, the first of the list was entered by the manager who validates: refused, its
    validation undone, so the next one's preview gives rank 1, as its release does."""
    settings.DECISION_TWO_PERSON_RULE = True
    refused = entered(formation, campaign, centre_manager, rank=1)
    kept = entered(formation, campaign, commission_member, rank=2)
    after = entered(formation, campaign, commission_member, rank=3)

    previews = release.preview_release([after, kept, refused], actor=centre_manager)

    assert [preview.application.pk for preview in previews] == [refused.pk, kept.pk, after.pk]
    assert previews[0].refusal
    assert previews[0].mails == []
    assert [rank_in(preview.mails[0].body) for preview in previews[1:]] == ["1", "2"]
    assert not Application.objects.filter(waiting_list_rank__isnull=False).exists()  # nothing stays


def test_release_order_moves_only_the_complementary_lists(centre, commission, campaign, commission_member):
    """Each formation's complementary-list decisions in its list's order (the rank entered, then the application's
    creation), in the places they hold in pk order; the others keep theirs."""
    f1 = FormationFactory(centre=centre, commission=commission, code="F1")
    f2 = FormationFactory(centre=centre, commission=commission, code="F2")
    a3 = entered(f1, campaign, commission_member, rank=3)
    favourable = entered(f1, campaign, commission_member, avis=Avis.FAVOURABLE)
    b2 = entered(f2, campaign, commission_member, rank=2)
    a1 = entered(f1, campaign, commission_member, rank=1)
    a3_later = entered(f1, campaign, commission_member, rank=3)
    b1 = entered(f2, campaign, commission_member, rank=1)

    ordered = release.release_order([b1, a3_later, a1, b2, favourable, a3])

    assert [application.pk for application in ordered] == [
        application.pk for application in (a1, favourable, b1, a3, a3_later, b2)
    ]


REFUSED = (
    "Another action held this application or its formation's complementary list at the same moment (a colleague's "
    "validation, a withdrawal…): nothing was done for it. Try again in a moment."
)


@pytest.fixture
def formation_held(formation):
    """Another transaction holds the formation's row (a promotion, another manager's validation…) until the test
    ends, and the test's connection gives up a lock wait after 200 ms (``lock_timeout``): a lock conflict."""
    held, done = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(Formation.objects.select_for_update(of=("self",)).filter(pk=formation.pk))
                held.set()
                done.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(timeout=10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")
    done.set()
    holder.join(timeout=10)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_lock_conflict_on_the_formations_previewed_refuses_each_preview_not_a_500(
    client, crosswise, formation_held, centre_manager, django_assert_num_queries
):
    """The preview of a list's decisions locks their formations first, as the release does (PostgreSQL)."""
    assert connection.vendor == "postgresql", "integration tests run on PostgreSQL (DATABASE_URL)"
    client.force_login(centre_manager)

    with django_assert_num_queries(23):  # the page, then the formations' lock, refused: no validation runs
        response = client.post(reverse(CHANGELIST), selection(*crosswise))

    assert response.status_code == 200
    assert [preview.refusal for preview in response.context["release_previews"]] == [REFUSED, REFUSED]
    assert not Application.objects.filter(waiting_list_rank__isnull=False).exists()
    assert mails("AVIS_LISTE_COMP") == []
