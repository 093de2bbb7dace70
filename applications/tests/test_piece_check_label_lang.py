"""The piece check's refusal, on an English back-office page: the piece's name is the institution's French, marked
``lang="fr"`` (RGAA 8.7) in the banner and beside the comment field, and escaped there."""

import re

import pytest
from django.urls import reverse

from applications.tests.factories_candidature import make_application, with_file
from applications.tests.helpers import REVIEW_PAGE_QUERIES
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ERROR = "give a comment to refuse a piece; the candidate reads it."


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("Relevé de notes", "Relevé de notes"),
        ("Relevé <script>alert(1)</script>", "Relevé &lt;script&gt;alert(1)&lt;/script&gt;"),
    ],
)
def test_a_refusal_without_a_comment_marks_the_pieces_french_name(
    client, django_assert_num_queries, centre, commission, campaign, centre_manager, label, shown
):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    submission = with_file(application, label=label)
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])
    response = client.post(url, {"status": "RE", "comment": ""})

    # The kept form is read once: the session is saved again (savepoint, update, release).
    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 3):
        page = client.get(response["Location"]).content.decode()

    expected = f'<span lang="fr">{shown}</span>: {ERROR}'
    banner = re.findall(r'<li class="error">(.*?)</li>', page, re.S)
    beside = re.findall(rf'<p class="errornote" id="piece-{submission.piece_type_id}-comment-error">(.*?)</p>', page)
    assert (banner, beside) == ([expected], [expected])
