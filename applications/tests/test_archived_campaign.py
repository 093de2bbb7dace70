"""The yearly rollover, as the back office lives it: once the nightly archiving has activated the next campaign, last
year's applications are read (page, exports, PDF), never changed (eCandidat's « Candidatures archivées »): no action
on the page, an action posted anyway refused, a mass action mixing both years refused with a message."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import User
from accounts.services import release_email_from_past_campaigns
from accounts.tests.factories import CandidateUserFactory
from applications.enums import DossierStatus
from applications.models import Application, Decision
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, operation_url
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.models import Campaign
from offers.tests.factories import CampaignFactory, FormationFactory

CHANGELIST = "admin:applications_application_changelist"
ARCHIVED_NOTICE = "Candidature d'une campagne passée (Campagne C2026)"

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def last_year(db):
    return CampaignFactory(code="C2026", label="Campagne C2026", is_active=True)


@pytest.fixture
def archived(formation, last_year):
    """An application of last year's campaign, archived by the nightly batch, which activated this year's."""
    application = make_application(formation, campaign=last_year)
    last_year.archive_on = timezone.localdate()
    last_year.save()
    CampaignFactory(code="C2027", starts_on=last_year.starts_on + datetime.timedelta(days=1))
    call_command("archive_campaigns", stdout=io.StringIO())
    return application


@pytest.fixture
def this_year(formation, archived):
    return make_application(formation, campaign=Campaign.objects.get(is_active=True))


def test_the_page_of_an_archived_application_reads_and_offers_no_action(
    client, centre_manager, archived, django_assert_num_queries
):
    client.force_login(centre_manager)

    # As this year's (the two scope checks stay), without « Saisir un avis »'s two lists: no form on a past campaign.
    with django_assert_num_queries(REVIEW_PAGE_QUERIES - 2):
        response = client.get(change_url(archived))

    html = response.content.decode()
    assert response.status_code == 200
    assert ARCHIVED_NOTICE in html.replace("&#x27;", "'")
    assert "review-operations" not in html  # « Saisir un avis », « Statut du dossier »… are not offered
    assert operation_url(archived, "enter_decision") not in html


@pytest.mark.parametrize("persona", ["central_manager", "centre_manager", "commission_member"])
def test_a_decision_posted_on_an_archived_application_is_refused(client, request, archived, persona):
    """Those who decide on this year's applications (read-only staff never could)."""
    client.force_login(request.getfixturevalue(persona))

    response = client.post(
        operation_url(archived, "enter_decision"), {"decision_type": decision_type(Avis.FAVOURABLE).pk}
    )

    assert response.status_code == 403
    assert not Decision.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_a_status_posted_on_an_archived_application_is_refused(client, centre_manager, archived):
    client.force_login(centre_manager)

    response = client.post(operation_url(archived, "set_status"), {"target": DossierStatus.COMPLETE})

    assert response.status_code == 403
    archived.refresh_from_db()
    assert archived.dossier_status == DossierStatus.RECEIVED


def test_a_mass_action_mixing_both_years_is_refused_with_a_message(client, centre_manager, archived, this_year):
    """From « Toutes les campagnes » (the list shows the active campaign's only by default)."""
    client.force_login(centre_manager)
    selection = {"action": "action_set_status", "_selected_action": [archived.pk, this_year.pk]}

    response = client.post(
        reverse(CHANGELIST) + "?campaign__id__exact=all", {**selection, "apply": "1", "target": "CO"}, follow=True
    )

    assert response.status_code == 200
    assert (
        "1 candidature sélectionnée appartient à une campagne passée : elle est en lecture seule. Rien n'a été "
        "modifié" in response.content.decode().replace("&#x27;", "'")
    )
    assert not Application.objects.filter(dossier_status=DossierStatus.COMPLETE).exists()
    assert not OutboundEmail.objects.exists()


def test_this_years_applications_are_still_managed(client, centre_manager, archived, this_year):
    client.force_login(centre_manager)

    response = client.post(operation_url(this_year, "set_status"), {"target": DossierStatus.COMPLETE})

    assert response.status_code == 302
    this_year.refresh_from_db()
    assert this_year.dossier_status == DossierStatus.COMPLETE


def test_the_archived_campaigns_applications_still_export(client, centre_manager, archived, this_year):
    client.force_login(centre_manager)

    response = client.get(
        reverse("admin:applications_application_export", args=["xlsx"])
        + f"?campaign__id__exact={archived.campaign_id}"
    )

    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.getvalue())).active.iter_rows(values_only=True))
    assert len(rows) == 2  # the header and last year's application only
    assert archived.candidate.user.username in rows[1]


def test_the_purge_keeps_last_years_account_that_gave_its_address_to_this_years(archived, central_manager):
    """An account the scolarité created last year for a paper application (address verified, never logged in)
    loses its verified address when its owner validates this year's account: the nightly purge took it for an
    unvalidated account, and its dossier (protected) made the whole purge fail, night after night."""
    old = archived.candidate.user
    User.objects.filter(pk=old.pk).update(last_login=None, date_joined=timezone.now() - datetime.timedelta(days=300))
    this_years = CandidateUserFactory(
        campaign=Campaign.objects.get(is_active=True), email=old.email, verified_email=False
    )
    assert release_email_from_past_campaigns(email=old.email, user=this_years) == 1

    call_command("purge_unvalidated_accounts", stdout=io.StringIO())

    assert User.objects.filter(pk=old.pk).exists()
    assert Application.objects.filter(pk=archived.pk).exists()
