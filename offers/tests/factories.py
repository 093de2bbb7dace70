import datetime

import factory
from django.utils import timezone

from offers.enums import ApplicationMode
from offers.models import Campaign, Centre, Commission, DiplomaType, Formation, PieceType, Question


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    code = factory.Sequence(lambda n: f"C{2026 + n}")
    label = factory.LazyAttribute(lambda o: f"Campagne {o.code}")
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=60))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=200))
    is_active = False


class CentreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Centre

    code = factory.Sequence(lambda n: f"CTR{n}")
    label = factory.Sequence(lambda n: f"UFR numéro {n}")
    address = "52 avenue Paul Alduy\n66860 PERPIGNAN"
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@univ.example")


class DiplomaTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DiplomaType
        django_get_or_create = ["code"]

    code = "MASTER"
    label = "MASTER LMD"


class CommissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commission

    centre = factory.SubFactory(CentreFactory)
    code = factory.Sequence(lambda n: f"COM{n}")
    label = factory.Sequence(lambda n: f"Commission {n}")
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@univ.example")


class FormationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Formation

    code = factory.Sequence(lambda n: f"F{n:05d}")
    title = factory.Sequence(lambda n: f"MASTER 1 - Formation {n}")
    keywords = ""
    centre = factory.SubFactory(CentreFactory)
    commission = factory.SubFactory(CommissionFactory, centre=factory.SelfAttribute("..centre"))
    diploma_type = factory.SubFactory(DiplomaTypeFactory)
    mode = ApplicationMode.ONLINE
    opens_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=10))
    closes_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=30))
    return_deadline = factory.LazyAttribute(lambda o: o.closes_on + datetime.timedelta(days=7))
    # A date or a délai in days, never both (Formation's constraint): no date for a formation counting in days.
    confirmation_delay_days = None
    confirmation_date = factory.LazyAttribute(
        lambda o: None if o.confirmation_delay_days is not None else o.return_deadline + datetime.timedelta(days=30)
    )


class PieceTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PieceType

    code = factory.Sequence(lambda n: f"PJ{n}")
    label = factory.Sequence(lambda n: f"Pièce {n}")


def make_question(code, *, kind=Question.Kind.TEXT, **fields):
    """A complementary question of ``kind`` (text by default) coded ``code``, labelled from its code unless given."""
    return Question.objects.create(
        code=code,
        label=fields.pop("label", f"Label {code}"),
        candidate_label=fields.pop("candidate_label", f"Question {code} ?"),
        kind=kind,
        **fields,
    )
