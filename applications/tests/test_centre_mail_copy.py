"""A centre may receive a copy of every mail its candidates receive about their applications (eCandidat
typ_send_mail_ctr_cand): none, its contact e-mail, or its active managers; each copy is an outbox row of its own, in
the institution's language."""

import pytest
from django.db import transaction

from accounts.models import StaffRole
from accounts.tests.factories import StaffMembershipFactory
from applications.enums import DossierStatus
from applications.services import staff
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import mails
from ecandidat.models import MailTemplate
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    application.candidate.preferred_language = "en"
    application.candidate.save()
    return application


def _complete(application, actor):
    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=actor)


def test_no_copy_by_default(application, centre_manager):
    _complete(application, centre_manager)

    assert [mail.to for mail in mails("STATUT_CO")] == [application.candidate.user.email]


def test_a_copy_to_the_centres_contact_address_in_french(application, centre, centre_manager):
    centre.candidate_mail_copy, centre.email = "M", "scolarite.see@univ.example"
    centre.save()

    _complete(application, centre_manager)

    to_candidate, copy = mails("STATUT_CO")
    assert to_candidate.to == application.candidate.user.email
    assert to_candidate.language == "en"
    assert (copy.to, copy.language) == ("scolarite.see@univ.example", "fr")
    assert application.formation.code in copy.body


def test_a_copy_to_each_active_manager(application, centre, centre_manager):
    gone = StaffMembershipFactory(centre=centre, user__email="parti@univ.example").user
    gone.is_active = False
    gone.save()
    StaffMembershipFactory(role=StaffRole.READ_ONLY, centre=centre, user__email="lecture@univ.example")
    centre.candidate_mail_copy = "L"
    centre.save()

    _complete(application, centre_manager)

    assert sorted(mail.to for mail in mails("STATUT_CO")) == sorted(
        [application.candidate.user.email, centre_manager.email]
    )


def test_no_copy_of_a_mail_out_of_service(application, centre, centre_manager):
    centre.candidate_mail_copy, centre.email = "M", "scolarite.see@univ.example"
    centre.save()
    MailTemplate.objects.create(code="STATUT_CO", language="en", subject="s", body="b", in_service=False)

    _complete(application, centre_manager)

    assert mails("STATUT_CO") == []


def test_the_copy_is_written_with_the_candidates_mail_or_not_at_all(application, centre, centre_manager):
    centre.candidate_mail_copy, centre.email = "M", "scolarite.see@univ.example"
    centre.save()

    def complete_then_fail():
        with transaction.atomic():
            _complete(application, centre_manager)
            raise RuntimeError("the request failed after the service")

    with pytest.raises(RuntimeError):
        complete_then_fail()

    assert mails("STATUT_CO") == []  # neither the candidate's mail nor the copy: nothing half-written
