"""``manage.py seed_demo`` as a newcomer runs it: the whole chain, twice, and what a manager then finds."""

from io import StringIO

import pytest
from django.core.management import call_command

from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, ApplicationEvent, PieceSubmission
from documents.models import Document

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_leaves_transmitted_applications_for_the_back_office():
    output = _seed()

    applications = Application.objects.filter(formation__code="M1ENER")
    assert applications.count() == 3
    assert set(applications.values_list("dossier_status", flat=True)) == {DossierStatus.RECEIVED}
    assert all(application.transmitted_at for application in applications)
    # Every piece is either a real stored file waiting to be checked or the conditional piece declared not concerned.
    statuses = set(
        PieceSubmission.objects.filter(candidate__user__email__endswith="@example.org").values_list(
            "status", flat=True
        )
    )
    assert statuses == {PieceStatus.SUBMITTED, PieceStatus.NOT_CONCERNED}
    assert Document.objects.filter(submission__status=PieceStatus.SUBMITTED).exists()
    assert ApplicationEvent.objects.filter(application__in=applications, to_status=DossierStatus.RECEIVED).count() == 3
    assert "3 demo candidates transmitted their dossier to M1ENER" in output


def test_seed_demo_twice_changes_nothing():
    _seed()
    counts = (Application.objects.count(), PieceSubmission.objects.count(), Document.objects.count())

    _seed()

    assert (Application.objects.count(), PieceSubmission.objects.count(), Document.objects.count()) == counts
