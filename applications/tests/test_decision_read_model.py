"""One read model for decisions (issue 10): staff and candidate see the same confirmation date."""

import datetime

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.urls import reverse

from applications.models import Application
from applications.tests.factories_candidature import decide, make_application
from offers.enums import Avis
from offers.models import RefusalReason
from offers.tests.factories import FormationFactory


@pytest.fixture
def refused_after_favourable(centre, commission, campaign, central_manager):
    """Validated favourable on 1 June, then a later validated unfavourable decision: the latest validated
    decision is unfavourable, so there is nothing to confirm and no confirmation date."""
    formation = FormationFactory(centre=centre, commission=commission, confirmation_delay_days=10)
    application = make_application(formation, campaign=campaign)
    with time_machine.travel(datetime.datetime(2026, 6, 1, 10, tzinfo=datetime.UTC), tick=False):
        decide(application, Avis.FAVOURABLE, actor=central_manager)
    with time_machine.travel(datetime.datetime(2026, 6, 3, 10, tzinfo=datetime.UTC), tick=False):
        reason = RefusalReason.objects.create(code="CAP", label="Capacité d'accueil atteinte")
        decide(application, Avis.UNFAVOURABLE, actor=central_manager, refusal_reason=reason)
    return application


def _staff_confirmation_date(application, user):
    """What the back office's application page shows in its "effective confirmation date" field."""
    model_admin = site._registry[Application]
    request = RequestFactory().get("/")
    request.user = user
    obj = model_admin.get_object(request, str(application.pk))
    return model_admin.effective_confirmation_date(obj)


def test_staff_and_candidate_see_the_same_confirmation_date(refused_after_favourable, client, central_manager):
    application = refused_after_favourable
    client.force_login(application.candidate.user)

    candidate_sees = client.get(reverse("applications:detail", args=[application.public_id])).context[
        "confirmation_date"
    ]

    assert candidate_sees is None
    assert _staff_confirmation_date(application, central_manager) == "—"
