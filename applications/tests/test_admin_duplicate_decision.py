""" "Dupliquer la dernière décision" on "Saisir un avis" (eCandidat §2.3): the form filled again with the latest
decision's values, on one application only; personas, query counts, the new decision entered beside the old one."""

import datetime
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.enums import EventKind
from applications.models import ApplicationEvent, Decision
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import operation_url
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

QUERIES_PAGE = 12  # the page with the latest decision, whether the form repeats it or not
DUPLICATE = "Dupliquer la dernière décision"


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


@pytest.fixture
def preselected(application, commission_member):
    """The commission convened the candidate, then must move the interview to another room."""
    staff.record_decision(
        application,
        decision_type=decision_type(Avis.PRESELECTION),
        actor=commission_member,
        preselection_at=timezone.make_aware(datetime.datetime(2027, 6, 3, 9, 30)),
        preselection_place="Salle B204",
        comment="Apporter le portfolio",
    )
    return application


def duplicate_url(application, **query):
    return operation_url(application, "enter_decision") + "?" + urlencode({"dupliquer": "1", **query})


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),  # the login page
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 200),
        ("central_manager", 200),
        ("read_only", 403),
    ],
    indirect=["persona"],
)
def test_duplicate_personas(client, persona, preselected, expected):
    client.force_login(persona)
    assert client.get(duplicate_url(preselected)).status_code == expected


def test_the_page_offers_to_duplicate_the_latest_decision(
    client, django_assert_num_queries, commission_member, preselected
):
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_PAGE):
        page = client.get(operation_url(preselected, "enter_decision")).content.decode()

    assert '<h2 id="last-decision-title">Dernier avis</h2>' in page
    assert '<strong lang="fr">Preselection</strong>, 03/06/2027 09:30 Salle B204' in page
    assert "Commentaire : Apporter le portfolio" in page
    assert f'<a href="{duplicate_url(preselected)}" class="button">{DUPLICATE}</a>' in page


def test_without_a_decision_there_is_nothing_to_duplicate(
    client, django_assert_num_queries, commission_member, application
):
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_PAGE):  # a hand-made link: the page's read of the decisions finds none
        response = client.get(duplicate_url(application))
    page = response.content.decode()

    assert DUPLICATE not in page
    assert "Dernier avis" not in page
    # Nothing chosen for the commission; the form holds that the page showed no decision (sent twice: refused).
    assert response.context["form"].initial == {"shown_decisions": f"{application.pk}:0"}


def test_the_link_fills_the_form_with_the_latest_decision(
    client, django_assert_num_queries, commission_member, preselected
):
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_PAGE):  # the form's values from the page's read of the decision
        response = client.get(duplicate_url(preselected))
    page = response.content.decode()

    latest = Decision.objects.get()
    assert response.context["form"].initial == {
        "shown_decisions": f"{preselected.pk}:{latest.pk}",
        "decision_type": latest.decision_type_id,
        "preselection_date": datetime.date(2027, 6, 3),
        "preselection_time": datetime.time(9, 30),
        "preselection_place": "Salle B204",
        "comment": "Apporter le portfolio",
    }
    assert 'value="Salle B204"' in page
    assert 'value="2027-06-03"' in page
    assert "Le formulaire ci-dessous reprend cet avis" in page
    assert DUPLICATE not in page  # said once: the form is already the duplicate


def test_confirming_the_duplicate_enters_a_new_decision_and_keeps_the_old_one(client, commission_member, preselected):
    client.force_login(commission_member)
    form = client.get(duplicate_url(preselected)).context["form"]
    data = dict(form.initial)
    data["preselection_place"] = "Amphi 2"

    response = client.post(operation_url(preselected, "enter_decision"), data)

    assert response.status_code == 302
    old, new = Decision.objects.order_by("pk")
    assert (old.preselection_place, new.preselection_place) == ("Salle B204", "Amphi 2")
    assert new.preselection_at == old.preselection_at
    assert new.comment == "Apporter le portfolio"
    assert new.created_by == commission_member
    assert ApplicationEvent.objects.filter(kind=EventKind.DECISION_ENTERED, actor=commission_member).count() == 2


def test_a_complementary_list_rank_and_a_reason_are_repeated(client, commission_member, application):
    staff.record_decision(
        application, decision_type=decision_type(Avis.COMPLEMENTARY_LIST), actor=commission_member, rank=7
    )
    client.force_login(commission_member)

    initial = client.get(duplicate_url(application)).context["form"].initial

    assert initial["rank"] == 7
    assert initial["decision_type"] == Decision.objects.get().decision_type_id


def test_a_selection_is_not_offered_the_duplicate(client, commission_member, preselected, formation, campaign):
    other = make_application(formation, campaign=campaign)
    client.force_login(commission_member)

    page = client.post(
        reverse("admin:applications_application_changelist"),
        {"action": "action_enter_decision", "_selected_action": [preselected.pk, other.pk]},
    ).content.decode()

    assert "Saisir un avis" in page
    assert DUPLICATE not in page
    assert "Dernier avis" not in page


# --- the formation's preselection convocation ----------------------------------------------------------------------


@pytest.fixture
def convened(formation):
    formation.preselection_on = datetime.date(2027, 6, 10)
    formation.preselection_time = datetime.time(14, 0)
    formation.preselection_place = "Bâtiment U, salle 12"
    formation.save()
    return formation


def test_the_formations_convocation_is_proposed_on_one_application(
    client, django_assert_num_queries, commission_member, convened, campaign
):
    application = make_application(convened, campaign=campaign)
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_PAGE):  # the formation comes with the application
        response = client.get(operation_url(application, "enter_decision"))
    page = response.content.decode()

    assert response.context["form"].initial == {
        "shown_decisions": f"{application.pk}:0",
        "preselection_date": datetime.date(2027, 6, 10),
        "preselection_time": datetime.time(14, 0),
        "preselection_place": "Bâtiment U, salle 12",
    }
    assert 'name="preselection_date" value="2027-06-10"' in page
    assert 'name="preselection_time" value="14:00"' in page


def test_the_formations_convocation_is_proposed_on_a_selection_and_entered(
    client, commission_member, convened, campaign
):
    applications = [make_application(convened, campaign=campaign) for _ in range(2)]
    client.force_login(commission_member)
    selection = {"action": "action_enter_decision", "_selected_action": [a.pk for a in applications]}

    page = client.post(reverse("admin:applications_application_changelist"), selection).content.decode()
    client.post(
        reverse("admin:applications_application_changelist"),
        {
            **selection,
            "apply": "1",
            "decision_type": decision_type(Avis.PRESELECTION).pk,
            "preselection_date": "2027-06-10",
            "preselection_time": "14:00",
            "preselection_place": "Bâtiment U, salle 12",
        },
    )

    assert 'value="Bâtiment U, salle 12"' in page
    assert (
        Decision.objects.filter(
            preselection_at=timezone.make_aware(datetime.datetime(2027, 6, 10, 14, 0)),
            preselection_place="Bâtiment U, salle 12",
        ).count()
        == 2
    )


def test_a_selection_of_several_formations_gets_no_convocation(
    client, commission_member, convened, centre, commission, campaign
):
    other = FormationFactory(centre=centre, commission=commission, code="M1MER", title="Master Mer")
    applications = [make_application(convened, campaign=campaign), make_application(other, campaign=campaign)]
    client.force_login(commission_member)

    response = client.post(
        reverse("admin:applications_application_changelist"),
        {"action": "action_enter_decision", "_selected_action": [a.pk for a in applications]},
    )

    first, second = sorted(a.pk for a in applications)
    assert response.context["form"].initial == {"shown_decisions": f"{first}:0,{second}:0"}  # no convocation


def test_a_duplicated_decision_wins_over_the_convocation_and_keeps_it_where_it_has_none(
    client, commission_member, convened, campaign
):
    favourable = make_application(convened, campaign=campaign)
    staff.record_decision(favourable, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    client.force_login(commission_member)

    initial = client.get(duplicate_url(favourable)).context["form"].initial

    assert initial["decision_type"] == Decision.objects.get().decision_type_id
    assert initial["preselection_place"] == "Bâtiment U, salle 12"


def test_the_formation_form_has_the_convocation(client, centre_manager, convened):
    client.force_login(centre_manager)

    page = client.get(reverse("admin:offers_formation_change", args=[convened.pk])).content.decode()

    assert 'name="preselection_on"' in page
    assert 'name="preselection_time"' in page
    assert 'name="preselection_place"' in page
    assert "Proposée à la saisie d'un avis de présélection" in page


@pytest.mark.parametrize("rank", ["100000", "99999999999999999999"])
def test_a_rank_beyond_any_list_is_refused_beside_the_field(client, commission_member, application, rank):
    client.force_login(commission_member)

    response = client.post(
        operation_url(application, "enter_decision"),
        {"decision_type": decision_type(Avis.COMPLEMENTARY_LIST).pk, "rank": rank},
    )

    assert response.status_code == 200
    assert "Assurez-vous que cette valeur est inférieure ou égale à 99999." in response.content.decode()
    assert not Decision.objects.exists()
