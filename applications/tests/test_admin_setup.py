"""Setup screens (offers admin): pages open, validation messages, scoped autocompletes."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import StaffMembership
from applications import demo_staff
from applications.tests.factories_candidature import DecisionFactory, DecisionTypeFactory, decision_type
from offers import demo as offers_demo
from offers.enums import Avis
from offers.models import DecisionType
from offers.tests.factories import CentreFactory, FormationFactory

DECISION_TYPE_IN_USE = (
    "Decisions of this type have already been entered: its kind of decision can no longer change (create a new "
    "decision type instead)."
)
WAITING_LIST_TYPE_MISSING = "Choose the favourable decision given to the candidates admitted from the list."
SETUP_MODELS = [
    "campaign",
    "centre",
    "commission",
    "diplomatype",
    "piecetype",
    "decisiontype",
    "refusalreason",
    "complementaryform",
    "formation",
]


@pytest.mark.parametrize("model", SETUP_MODELS)
def test_setup_pages_open(client, superuser, model):
    client.force_login(superuser)
    assert client.get(reverse(f"admin:offers_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:offers_{model}_add")).status_code == 200


def test_the_last_decision_type_of_a_kind_stays_in_service(client, superuser):
    favourable = decision_type(Avis.FAVOURABLE)
    client.force_login(superuser)
    data = {
        "code": favourable.code,
        "label": favourable.label,
        "candidate_label": favourable.candidate_label,
        "avis": favourable.avis,
        "mail_code": favourable.mail_code,
    }  # in_service unticked
    response = client.post(reverse("admin:offers_decisiontype_change", args=[favourable.pk]), data)
    assert response.status_code == 200
    assert "must stay in service" in str(response.context["adminform"].form.non_field_errors())
    assert DecisionType.objects.get(pk=favourable.pk).in_service


def test_a_decision_type_in_use_keeps_its_kind_of_decision(client, superuser, campaign):
    """Regression: a type of validated refusals turned favourable let its candidates confirm (and go to the OPI)."""
    unfavourable = decision_type(Avis.UNFAVOURABLE)
    decision_type(Avis.FAVOURABLE)  # another type of each kind stays in service: only the decisions refuse
    DecisionFactory(decision_type=unfavourable, validated=True, application__campaign=campaign)
    client.force_login(superuser)
    data = {
        "code": unfavourable.code,
        "label": unfavourable.label,
        "candidate_label": unfavourable.candidate_label,
        "avis": Avis.FAVOURABLE,
        "mail_code": "",
        "in_service": "on",
    }

    response = client.post(reverse("admin:offers_decisiontype_change", args=[unfavourable.pk]), data, language="en")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"avis": [DECISION_TYPE_IN_USE]}
    unfavourable.refresh_from_db()
    assert unfavourable.avis == Avis.UNFAVOURABLE
    # A type no decision uses still changes kind.
    unused = DecisionTypeFactory(code="REFUS_2", avis=Avis.UNFAVOURABLE)
    response = client.post(reverse("admin:offers_decisiontype_change", args=[unused.pk]), {**data, "code": "REFUS_2"})
    assert response.status_code == 302
    unused.refresh_from_db()
    assert unused.avis == Avis.FAVOURABLE


def test_automatic_waiting_list_needs_a_decision_type(client, superuser):
    formation = FormationFactory()
    client.force_login(superuser)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = {
        "code": formation.code,
        "title": formation.title,
        "centre": formation.centre_id,
        "commission": formation.commission_id,
        "diploma_type": formation.diploma_type_id,
        "mode": formation.mode,
        "in_service": "on",
        "opens_on": formation.opens_on.isoformat(),
        "closes_on": formation.closes_on.isoformat(),
        "return_deadline": formation.return_deadline.isoformat(),
        "confirmation_date": formation.confirmation_date.isoformat(),
        "treatment_type": "AC",
        "auto_waiting_list": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "waiting_list_decision_type": [
            "Choose the favourable decision given to the candidates admitted from the list."
        ]
    }


def test_centre_autocomplete_is_scoped(client, centre_manager, centre):
    CentreFactory(label="UFR Droit")
    centre_manager.user_permissions.add(
        Permission.objects.get(codename="view_centre"), Permission.objects.get(codename="change_formation")
    )
    client.force_login(centre_manager)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "offers", "model_name": "formation", "field_name": "centre", "term": "UFR"},
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == [centre.label]


def test_demo_staff_seed_is_idempotent(campaign):
    offers_demo.seed()
    first = demo_staff.seed()
    assert demo_staff.seed() == first
    assert DecisionType.objects.filter(in_service=True).values("avis").distinct().count() == len(Avis)
    roles = set(StaffMembership.objects.values_list("user__username", "role"))
    assert roles == {
        ("commission.see", "COM"),
        ("lecture.see", "RO"),
        ("gestion.commission.see", "CTR"),
        ("accueil.candidats", "GCA"),
    }
    limited = StaffMembership.objects.get(user__username="gestion.commission.see")
    assert not limited.all_commissions
    assert limited.commissions.count() == 1


def test_staff_membership_pages_open(client, superuser, centre_manager):
    client.force_login(superuser)
    assert client.get(reverse("admin:accounts_staffmembership_changelist")).status_code == 200
    membership = centre_manager.staff_memberships.get()
    assert client.get(reverse("admin:accounts_staffmembership_change", args=[membership.pk])).status_code == 200


def _decision_type_data(**fields):
    return {"code": "ADMIS_RESERVE", "label": "Admis sous réserve", "candidate_label": "Admis", "avis": "FA", **fields}


def test_a_decision_type_sends_only_a_mail_that_exists(client, superuser):
    """A free mail code made validating a decision of the type fail (no such mail): 500 on "Valider les avis"."""
    client.force_login(superuser)

    response = client.post(
        reverse("admin:offers_decisiontype_add"),
        _decision_type_data(mail_code="AVIS_DESISTEMENT", in_service="on"),
        language="fr",
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["mail_code"]
    assert "AVIS_DESISTEMENT n’en fait pas partie" in str(response.context["adminform"].form.errors["mail_code"])
    assert not DecisionType.objects.filter(code="ADMIS_RESERVE").exists()


def test_a_decision_type_without_a_chosen_mail_sends_the_mail_of_its_kind(client, superuser):
    client.force_login(superuser)

    page = client.get(reverse("admin:offers_decisiontype_add"), language="fr").content.decode()
    response = client.post(
        reverse("admin:offers_decisiontype_add"), _decision_type_data(avis="LC", mail_code="", in_service="on")
    )

    assert "Le mail de son type d&#x27;avis" in page
    assert "AVIS_LISTE_COMP — " in page
    assert response.status_code == 302
    assert DecisionType.objects.get(code="ADMIS_RESERVE").mail_code == "AVIS_LISTE_COMP"


def test_the_migration_gives_a_type_with_an_unknown_mail_the_mail_of_its_kind(db):
    migration = importlib.import_module("offers.migrations.0010_decision_mail_codes")
    unknown = DecisionType.objects.create(code="DESIST", label="x", candidate_label="x", avis="DE", mail_code="X")
    chosen = DecisionType.objects.create(
        code="FA2", label="x", candidate_label="x", avis="FA", mail_code="AVIS_PRESELECTION"
    )

    migration.mail_of_its_kind(apps, None)

    assert DecisionType.objects.get(pk=unknown.pk).mail_code == "AVIS_DEFAVORABLE"
    assert DecisionType.objects.get(pk=chosen.pk).mail_code == "AVIS_PRESELECTION"


@pytest.mark.parametrize("count", [1, 4])
def test_the_central_offices_autocompletes_work_without_javascript(
    client, django_assert_num_queries, superuser, centre, commission, count
):
    """The central office's « Ajouter formation » and « Ajouter commission » offered their centre, commission and
    diploma type as autocompletes: without JavaScript each was a list with nothing to choose, so no formation nor
    commission could be created. Each list now holds every row (Select2 still searches them with JavaScript), one
    query each, whatever the number of rows."""
    for number in range(count):
        CentreFactory(label=f"UFR {number}")
    diploma = FormationFactory(centre=centre, commission=commission).diploma_type
    client.force_login(superuser)

    with django_assert_num_queries(16):  # + the centres offered to pre-fill the form with their defaults
        formation_page = client.get(reverse("admin:offers_formation_add")).content.decode()
    commission_page = client.get(reverse("admin:offers_commission_add")).content.decode()

    for page in (formation_page, commission_page):
        start = page.index('id="id_centre"')  # the form's field (the add page also offers centres to pre-fill it)
        centre_select = page[start : page.index("</select>", start)]
        assert f'<option value="{centre.pk}">{centre.label}</option>' in centre_select
        assert centre_select.count("<option value=") == count + 1 + 1  # the empty choice included
    assert f'<option value="{commission.pk}">' in formation_page
    assert f'<option value="{diploma.pk}">' in formation_page
