"""The back office's home (issue 11): the staff member's figures with links into the filtered list, and the
applications per day (inline SVG and a table)."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from accounts.enums import LoginMethod
from accounts.services import record_login
from applications.enums import DossierStatus, PieceStatus
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import make_application, with_file
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def figures_data(centre, commission, other_centre, campaign):
    formation = FormationFactory(centre=centre, commission=commission)
    for status in [DossierStatus.RECEIVED, DossierStatus.RECEIVED, DossierStatus.COMPLETE, DossierStatus.WAITING]:
        application = make_application(formation, campaign=campaign, status=status)
    with_file(application)
    make_application(formation, campaign=campaign, accepted=True, answered_at=timezone.now())
    make_application(FormationFactory(centre=other_centre), campaign=campaign)  # another centre's
    return formation


def figures(response):
    return {figure["label"]: figure for figure in response.context["centre_home"]["figures"]}


@pytest.mark.parametrize(
    ("persona", "total"),
    [
        ("centre_manager", 5),
        ("commission_member", 5),
        ("read_only_staff", 5),
        ("other_centre_manager", 1),
        ("central_manager", 6),
    ],
)
def test_figures_of_the_staff_members_scope(request, client, figures_data, persona, total):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert figures(response)["Candidatures"]["count"] == total


def test_candidate_is_sent_to_the_login(client, candidate):
    client.force_login(candidate.user)
    assert client.get(reverse("admin:index")).status_code == 302


def test_figures_link_into_the_filtered_list(
    client, centre_manager, figures_data, campaign, django_assert_num_queries
):
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_HOME):
        response = client.get(reverse("admin:index"))

    shown = figures(response)
    assert {label: figure["count"] for label, figure in shown.items()} == {
        "Candidatures": 5,
        "Réceptionné": 3,
        "Pièces à contrôler": 1,
        "Complet": 1,
        "Décidées (avis validé)": 0,
        "Confirmées": 1,
    }
    listed = client.get(shown["Réceptionné"]["url"])
    assert len(listed.context["cl"].result_list) == 3  # each figure counts what its link lists
    html = response.content.decode()
    assert 'role="img" aria-labelledby="chart-title"' in html
    assert "<title>" in html
    assert "<table>" in html
    assert reverse("admin:applications_application_dashboard") in html  # the dashboards, one click away


QUERIES_HOME = 12  # session, user, scope, permissions, app list, campaign, figures, chart, latest actions


def test_home_query_count_does_not_grow(client, centre_manager, figures_data, campaign, django_assert_num_queries):
    for _ in range(10):
        make_application(figures_data, campaign=campaign)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_HOME):
        client.get(reverse("admin:index"))


def test_the_latest_actions_on_applications_are_the_users_own_newest_first(
    client, centre_manager, other_centre_manager, other_centre, figures_data, campaign, django_assert_num_queries
):
    """Django's "Actions récentes" lists only what its own forms log: a day of checking pieces left it empty. The
    home lists the user's latest actions from the applications' history, each a link to the reading page."""
    first, second = (
        make_application(figures_data, campaign=campaign),
        make_application(figures_data, campaign=campaign),
    )
    submission = with_file(first, label="Relevé de notes du baccalauréat")
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="illisible", actor=centre_manager)
    later = with_file(second, label="Lettre de motivation")
    set_piece_status(submission=later, status=PieceStatus.VALIDATED, actor=centre_manager)
    other = with_file(make_application(FormationFactory(centre=other_centre), campaign=campaign))
    set_piece_status(submission=other, status=PieceStatus.VALIDATED, actor=other_centre_manager)  # not theirs
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_HOME + 1):  # the labels of the pieces named
        response = client.get(reverse("admin:index"))

    actions = response.context["recent_application_actions"]
    assert [action["url"] for action in actions] == [
        reverse("admin:applications_application_change", args=[second.pk]),
        reverse("admin:applications_application_change", args=[first.pk]),
    ]
    assert actions[1]["text"] == (
        'Pièce refusée « <span lang="fr">Relevé de notes du baccalauréat</span> » : <span lang="fr">illisible</span>'
    )
    html = response.content.decode()
    assert "Mes dernières actions sur les candidatures" in html
    assert "Aucun(e) disponible" not in html


def test_an_action_on_an_application_no_longer_in_scope_is_not_listed(
    client, other_centre_manager, figures_data, campaign
):
    application = make_application(figures_data, campaign=campaign)  # of the centre the other manager cannot read
    submission = with_file(application)
    set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=other_centre_manager)
    client.force_login(other_centre_manager)

    response = client.get(reverse("admin:index"))

    assert response.context["recent_application_actions"] == []
    assert "Rien pour l’instant." in response.content.decode()


@pytest.mark.parametrize("extra_actions", [1, 15])
def test_the_latest_actions_cost_the_same_queries_whatever_their_number(
    client, centre_manager, figures_data, campaign, django_assert_num_queries, extra_actions
):
    submission = with_file(make_application(figures_data, campaign=campaign))
    for number in range(extra_actions):
        status = PieceStatus.VALIDATED if number % 2 == 0 else PieceStatus.SUBMITTED
        set_piece_status(submission=submission, status=status, actor=centre_manager)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_HOME + 1):  # the labels of the pieces named
        response = client.get(reverse("admin:index"))

    assert len(response.context["recent_application_actions"]) == min(extra_actions, 10)


def test_the_changes_to_the_settings_are_listed_only_when_there_are_some(client, centre_manager, commission_member):
    """A commission member changes no setting: an empty "Mes dernières modifications du paramétrage" was noise."""
    client.force_login(commission_member)
    assert (
        "Mes dernières modifications : paramétrage, dossiers et comptes"
        not in client.get(reverse("admin:index")).content.decode()
    )

    LogEntry.objects.create(
        user=centre_manager,
        content_type=ContentType.objects.get_for_model(type(centre_manager)),
        object_id=str(centre_manager.pk),
        object_repr="Formation M1ENER",
        action_flag=CHANGE,
    )
    client.force_login(centre_manager)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Mes dernières modifications : paramétrage, dossiers et comptes" in html
    assert "Formation M1ENER" in html


@pytest.mark.parametrize(
    "persona", ["read_only_staff", "commission_member", "candidates_manager", "candidates_reader"]
)
def test_a_login_is_not_listed_as_a_change_to_the_settings(client, request, persona):
    """Each login is written to the staff member's own account's history (record_login): the home listed it under
    "Mes dernières modifications du paramétrage", a link to their user's page that answers them 403 or 404."""
    user = request.getfixturevalue(persona)
    record_login(user=user, method=LoginMethod.PASSWORD)
    record_login(user=user, method=LoginMethod.ENT_OIDC)
    client.force_login(user)

    response = client.get(reverse("admin:index"))

    html = response.content.decode()
    assert response.context["settings_changes"] == []
    assert "Mes dernières modifications : paramétrage, dossiers et comptes" not in html
    assert reverse("admin:accounts_user_change", args=[user.pk]) not in html


def test_a_change_links_only_to_a_page_the_viewer_may_open(
    client, centre_manager, figures_data, campaign, django_assert_num_queries
):
    def change(model, obj, text):
        LogEntry.objects.create(
            user=centre_manager,
            content_type=ContentType.objects.get_for_model(model),
            object_id=str(obj.pk),
            object_repr=text,
            action_flag=CHANGE,
        )

    change(type(figures_data), figures_data, "Formation M1ENER")
    change(type(centre_manager), centre_manager, "gestionnaire")  # users: superusers only
    record_login(user=centre_manager, method=LoginMethod.PASSWORD)
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_HOME):
        response = client.get(reverse("admin:index"))

    assert [(change["entry"].object_repr, change["url"]) for change in response.context["settings_changes"]] == [
        ("gestionnaire", None),
        ("Formation M1ENER", reverse("admin:offers_formation_change", args=[figures_data.pk])),
    ]
    html = response.content.decode()
    assert f'<a href="{reverse("admin:offers_formation_change", args=[figures_data.pk])}">Formation M1ENER</a>' in html
    assert reverse("admin:accounts_user_change", args=[centre_manager.pk]) not in html


def test_the_helpdesks_changes_are_not_called_settings(
    client, candidates_manager, campaign, django_assert_num_queries
):
    """The helpdesk changes no setting, only candidates' dossiers and accounts: the home listed its address changes
    under "Mes dernières modifications du paramétrage"."""
    candidate = make_application(FormationFactory(), campaign=campaign).candidate
    client.force_login(candidates_manager)
    url = reverse("admin:applications_candidate_change", args=[candidate.pk])
    new = "nouvelle.adresse@example.org"
    client.post(url.replace("change/", "adresse-mail/"), {"email": new, "email2": new})
    client.get(reverse("admin:index"))  # per-process memos warm

    # session, user, the scope, the app list's rights, the changes (one query, their links asking no more)
    with django_assert_num_queries(QUERIES_HELPDESK_HOME):
        response = client.get(reverse("admin:index"))

    html = response.content.decode()
    assert "Mes dernières modifications : paramétrage, dossiers et comptes" in html
    assert f'<a href="{url}">{candidate}</a>' in html


QUERIES_HELPDESK_HOME = 8
