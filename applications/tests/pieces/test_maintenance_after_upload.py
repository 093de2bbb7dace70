"""A file uploaded just before the nightly window: the page the upload redirects to (the dossier, at the piece's
row) is answered by the maintenance page, which now says the file was received instead of claiming that nothing
sent was saved (review; applications/tests/test_maintenance_after_transmit.py for the transmission). The message is
about one piece (extra tag ``piece-<pk>``), shown in that piece's row on the dossier; the maintenance page has no
such row and shows it itself, or it would be read and lost.

The test settings turn the window off: these tests turn it on (the ``maintenance_window`` fixture)."""

import pytest
import time_machine
from pytest_django.asserts import assertContains, assertNotContains

from applications.models import PieceSubmission
from applications.tests.helpers import paris, post_file
from documents.tests import hostile_files as hostile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("maintenance_window")]

JUST_BEFORE = paris(2027, 5, 3, 22, 44, 59, 700000)
JUST_AFTER = paris(2027, 5, 3, 22, 45, 0, 790000)

RECEIVED = '<p class="message message--success" role="status">Lettre de motivation: file received.</p>'

# The dossier's page answered by the maintenance: the session (the message is in its cookie), the candidate's
# account; nothing else.
QUERIES_MAINTENANCE_PAGE_WITH_PIECE_MESSAGE = 2


@pytest.fixture(autouse=True)
def _evening():
    with time_machine.travel(paris(2027, 5, 3, 22, 30), tick=False):  # the login: the session is 45 minutes
        yield


def test_the_page_after_an_upload_just_before_the_window_says_the_file_was_received(
    owner, application, piece, django_assert_num_queries
):
    with time_machine.travel(JUST_BEFORE, tick=False):
        uploaded = post_file(owner, application, piece, hostile.valid_pdf_upload())

    assert uploaded.status_code == 302
    assert PieceSubmission.objects.filter(application=application, piece_type=piece).exists()
    with (
        time_machine.travel(JUST_AFTER, tick=False),
        django_assert_num_queries(QUERIES_MAINTENANCE_PAGE_WITH_PIECE_MESSAGE),
    ):
        page = owner.get(uploaded["Location"])

    assert page.status_code == 503
    assertContains(page, RECEIVED, count=1, html=True, status_code=503)
    assertNotContains(page, "was not saved", status_code=503)
