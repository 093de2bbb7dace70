"""The INE is unique within one campaign: accounts are annual (« vous devrez recréer un compte chaque année ») and
last year's dossiers stay, read-only, until their campaign is destroyed, so a returning candidate gives the same INE
again in the new campaign (ecandidat-features §1.3: "Cet INE a déjà été attribué à un candidat" within a campaign).
"""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import CandidateUserFactory
from applications import services
from applications.forms import PersonalDetailsForm
from applications.models import Candidate, InternalCursus
from applications.tests.factories import STUDENT, CandidateFactory
from applications.tests.helpers import dossier_form_data, migrate_to, migrate_to_latest, personal_details_form
from ecandidat.exceptions import FieldRuleError
from offers.tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

INE = "1234567890V"
PERSONAL = personal_details_form(birth_name="DUPONT", ine=INE, phone="")
INE_TAKEN = "This INE has already been given to a candidate."


@pytest.fixture
def last_year():
    """Last year's campaign, archived: its dossiers are kept, read-only, for ARCHIVE_RETENTION_DAYS."""
    return CampaignFactory(is_active=False, archive_on=timezone.localdate() - datetime.timedelta(days=30))


@pytest.fixture
def last_year_dossier(last_year):
    return CandidateFactory(user__campaign=last_year, ine=INE)


def _post_personal(client, language="en", **changes):
    return client.post(reverse("applications:personal_details"), {**PERSONAL, **changes}, language=language)


def test_a_returning_candidate_saves_their_dossier_with_last_years_ine(
    client, candidate_user, last_year_dossier, django_assert_num_queries
):
    client.force_login(candidate_user)

    # The form's check in this campaign, the account's lock, the insert, the INE looked up in the SIS ("Certifiez-
    # vous…") in a savepoint of its own, the next step.
    with django_assert_num_queries(16):
        response = _post_personal(client)

    assert response.status_code == 302
    created = Candidate.objects.get(user=candidate_user)
    assert (created.ine, created.campaign_id) == (INE, candidate_user.campaign_id)
    assert last_year_dossier.ine == INE


def test_a_returning_ent_student_gets_their_student_records_imported(campaign, last_year):
    # given: last year's dossier of the student, imported from the SIS then
    CandidateFactory(user__campaign=last_year, ine=STUDENT.ine, sis_locked=True)
    services.store_sis_records(students=[STUDENT], actor=None)
    account = CandidateUserFactory(campaign=campaign, student_number=STUDENT.student_number)

    # when: their new account of this year's campaign logs in
    candidate = services.open_dossier(user=account, actor=account)

    # then
    assert candidate is not None
    assert (candidate.ine, candidate.sis_locked, candidate.campaign_id) == (STUDENT.ine, True, campaign.pk)
    assert InternalCursus.objects.filter(candidate=candidate).count() == len(STUDENT.cursus)


def test_an_ent_student_whose_ine_a_dossier_of_the_campaign_holds_types_their_details(campaign):
    # An e-mail account of the same person in the same campaign holds the INE: no import, no IntegrityError.
    CandidateFactory(user__campaign=campaign, ine=STUDENT.ine)
    services.store_sis_records(students=[STUDENT], actor=None)
    account = CandidateUserFactory(campaign=campaign, student_number=STUDENT.student_number)

    assert services.open_dossier(user=account, actor=account) is None


class TestInsideOneCampaign:
    def test_the_form_refuses_an_ine_of_another_dossier_next_to_the_field(
        self, owner_client, other_candidate, django_assert_num_queries
    ):
        other_candidate.ine = INE
        other_candidate.save()

        with django_assert_num_queries(7):  # as any refused save of this page: nothing written
            response = _post_personal(owner_client, language="fr")

        assert response.status_code == 200
        assert response.context["form"].errors["ine"] == ["Cet INE a déjà été attribué à un candidat"]

    def test_a_new_dossier_with_an_ine_of_the_campaign_is_refused_next_to_the_field(
        self, client, candidate_user, other_candidate
    ):
        other_candidate.ine = INE
        other_candidate.save()
        client.force_login(candidate_user)

        response = _post_personal(client, language="fr")

        assert response.status_code == 200
        assert response.context["form"].errors["ine"] == ["Cet INE a déjà été attribué à un candidat"]
        assert not Candidate.objects.filter(user=candidate_user).exists()

    def test_a_dossier_that_took_the_ine_meanwhile_is_a_form_error_not_a_500(
        self, client, candidate_user, other_candidate, mocker, django_assert_num_queries
    ):
        # given: the form read the campaign free of this INE; another dossier takes it before the save (a race)
        client.force_login(candidate_user)
        mocker.patch.object(PersonalDetailsForm, "ine_taken", return_value=False)
        other_candidate.ine = INE
        other_candidate.save()

        # when: the INSERT (after the account's lock) breaks the constraint (savepoint rolled back, the check read
        # again)
        with django_assert_num_queries(12):
            response = _post_personal(client)

        # then
        assert response.status_code == 200
        assert response.context["form"].errors["ine"] == [INE_TAKEN]
        assert not Candidate.objects.filter(user=candidate_user).exists()

    def test_the_service_turns_the_constraint_into_a_field_error(self, candidate, other_candidate):
        Candidate.objects.filter(pk=other_candidate.pk).update(ine=INE)

        with pytest.raises(FieldRuleError) as refused:
            services.save_personal_details(
                user=candidate.user, candidate=candidate, data={"ine": INE}, actor=candidate.user
            )

        assert (refused.value.field, str(refused.value)) == ("ine", INE_TAKEN)
        candidate.refresh_from_db()
        assert candidate.ine == ""

    def test_the_database_refuses_a_second_dossier_with_the_ine(self, candidate, other_candidate):
        Candidate.objects.filter(pk=candidate.pk).update(ine=INE)

        with pytest.raises(IntegrityError), transaction.atomic():
            Candidate.objects.filter(pk=other_candidate.pk).update(ine=INE)

    def test_the_database_refuses_an_ine_without_the_campaign(self, candidate):
        # The uniqueness holds only with the campaign filled in: a dossier with an INE always has it.
        with pytest.raises(IntegrityError), transaction.atomic():
            Candidate.objects.filter(pk=candidate.pk).update(ine=INE, campaign=None)


class TestTheBackOffice:
    def _url(self, candidate):
        return reverse("admin:applications_candidate_change", args=[candidate.pk])

    def test_the_central_office_gives_a_dossier_last_years_ine(
        self, client, central_manager, candidate, last_year_dossier
    ):
        client.force_login(central_manager)
        data = dossier_form_data(client.get(self._url(candidate)))

        response = client.post(self._url(candidate), {**data, "ine": INE})

        assert response.status_code == 302, response.context and response.context["adminform"].form.errors
        candidate.refresh_from_db()
        assert candidate.ine == INE

    def test_an_ine_of_another_dossier_of_the_campaign_is_refused_next_to_the_field(
        self, client, central_manager, candidate, other_candidate
    ):
        Candidate.objects.filter(pk=other_candidate.pk).update(ine=INE)
        client.force_login(central_manager)
        data = dossier_form_data(client.get(self._url(candidate)))

        response = client.post(self._url(candidate), {**data, "ine": INE})

        assert response.status_code == 200
        form = response.context["adminform"].form
        assert form.errors == {"ine": [INE_TAKEN]}
        candidate.refresh_from_db()
        assert candidate.ine == ""


def test_the_dossier_follows_its_account_into_the_campaign(campaign, last_year):
    candidate = CandidateFactory(user__campaign=last_year)
    assert candidate.campaign_id == last_year.pk

    candidate.user = CandidateUserFactory(campaign=campaign)
    candidate.save()

    candidate.refresh_from_db()
    assert candidate.campaign_id == campaign.pk


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_dossier_its_accounts_campaign(campaign, last_year):
    old_dossier = CandidateFactory(user__campaign=last_year)
    new_dossier = CandidateFactory(user__campaign=campaign)
    try:
        old = migrate_to([("applications", "0031_opi_pieces")])
        old.get_model("applications", "Candidate").objects.filter(pk=old_dossier.pk).update(ine=INE)
        migrate_to([("applications", "0032_candidate_ine_unique_per_campaign")])
    finally:
        migrate_to_latest()

    assert dict(Candidate.objects.values_list("pk", "campaign_id")) == {
        old_dossier.pk: last_year.pk,
        new_dossier.pk: campaign.pk,
    }
    Candidate.objects.filter(pk=new_dossier.pk).update(ine=INE)  # last year's INE, in this year's campaign
