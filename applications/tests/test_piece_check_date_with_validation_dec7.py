"""« Valider » with a date « À remplacer au plus tard le » (review, 2026-12-07): the date was dropped and the piece
validated. Chromium sends a piece's check through « Valider » when Enter is pressed in its date field (the browser
test ``test_browser_piece_check_enter_dec7``): the manager had typed a refusal's reason and date. The date with a
validation is now refused next to it, nothing changed, what was typed kept for the manager's choice."""

import datetime
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.enums import PieceStatus
from applications.tests.factories_candidature import make_application, with_file
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER")
    return make_application(formation, campaign=campaign)


def test_a_validation_with_a_replacement_date_is_refused_next_to_the_date(
    client, django_assert_num_queries, centre_manager, application
):
    submission = with_file(application)
    day = timezone.localdate() + datetime.timedelta(days=10)
    client.force_login(centre_manager)
    check = reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])

    # Refused by the check's rules, before anything is locked or written.
    with django_assert_num_queries(QUERIES):
        response = client.post(check, {"status": "VA", "comment": "scan illisible", "replace_by": day.isoformat()})

    submission.refresh_from_db()
    assert (submission.status, submission.comment, submission.replace_by) == (PieceStatus.SUBMITTED, "", None)
    page = html.unescape(client.get(response["Location"]).content.decode())
    date_id = f"piece-{submission.piece_type_id}-replace-by"
    assert (
        f'<p class="errornote" id="{date_id}-error">Relevé de notes : une date limite de remplacement ne se donne '
        "qu'avec un refus.</p>"
    ) in page
    assert f'value="{day.isoformat()}"' in page  # kept, as the reason (« Refuser » is one click away)
    assert 'value="scan illisible"' in page


def test_a_validation_without_a_date_is_as_before(client, centre_manager, application):
    submission = with_file(application)
    client.force_login(centre_manager)
    check = reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])

    client.post(check, {"status": "VA", "comment": "", "replace_by": ""})

    submission.refresh_from_db()
    assert submission.status == PieceStatus.VALIDATED


QUERIES = 11  # the refusal of a bad date to refuse with (test_admin_review) costs as much
