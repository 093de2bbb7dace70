"""One factory per model of accounts. The persona fixtures built from them are in ``accounts.tests.personas``; a
candidate's dossier (the ``Candidate`` model) has its factory in ``applications.tests.factories``."""

import factory
from allauth.account.models import EmailAddress

from accounts.models import StaffMembership, StaffRole, User
from accounts.services import issue_numero_dossier
from offers.models import Campaign
from offers.tests.factories import CampaignFactory

DEFAULT_PASSWORD = "mot-de-passe-de-test-2026"


class UserFactory(factory.django.DjangoModelFactory):
    """A staff-less, campaign-less user; see CandidateUserFactory and StaffFactory."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username.lower()}@example.org")
    first_name = "Estelle"
    last_name = factory.Sequence(lambda n: f"Martin{n}")
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        """A verified primary address unless ``verified_email=False`` (an account not validated yet)."""
        if create and self.email:
            EmailAddress.objects.create(user=self, email=self.email, primary=True, verified=extracted is not False)


def _active_campaign() -> Campaign:
    return Campaign.objects.filter(is_active=True).first() or CampaignFactory.create(is_active=True)


class CandidateUserFactory(UserFactory):
    """A candidate's account: a numéro de dossier as username, in the active campaign (made when there is none),
    with a validated e-mail address. Its dossier is ``applications.tests.factories.CandidateFactory``."""

    username = factory.LazyFunction(issue_numero_dossier)
    campaign = factory.LazyFunction(_active_campaign)
    email = factory.Sequence(lambda n: f"candidat{n}@example.org")


class StaffFactory(UserFactory):
    is_staff = True


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(StaffFactory)
    role = StaffRole.CENTRE_MANAGER
    centre = factory.SubFactory("offers.tests.factories.CentreFactory")
    commission = None

    class Params:
        central = factory.Trait(role=StaffRole.CENTRAL, centre=None)
        candidates_manager = factory.Trait(role=StaffRole.CANDIDATES, centre=None)
        candidates_reader = factory.Trait(role=StaffRole.CANDIDATES_READ_ONLY, centre=None)
        commission_member = factory.Trait(
            role=StaffRole.COMMISSION_MEMBER,
            centre=None,
            commission=factory.SubFactory("offers.tests.factories.CommissionFactory"),
        )
