"""A piece's « Valider » / « Refuser » checks the status the page showed: a colleague's check made since the page was
opened (a refusal and its comment the candidate reads) is not overwritten unseen. The form posts the status shown
and when it was set (``shown_status``, ``shown_changed_at``); ``set_piece_status`` compares them under its lock."""

import html
import re

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffMembershipFactory
from applications.enums import EventKind, PieceStatus
from applications.models import ApplicationEvent
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import make_application, with_file
from applications.tests.helpers import change_url
from ecandidat.exceptions import InvalidTransition
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CHANGED = (
    "Relevé de notes: this piece was changed by Claire Collègue since the page was shown (status now: "
    "{status}); nothing was done: check it again."
)


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


@pytest.fixture
def colleague(centre):
    """Another manager of the same centre, checking the same dossier at the same time."""
    return StaffMembershipFactory(
        centre=centre, user__username="collegue", user__first_name="Claire", user__last_name="Collègue"
    ).user


def check_url(application, submission) -> str:
    return reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])


def shown_form(client, application, submission) -> dict[str, str]:
    """The hidden fields of the piece's « Valider » / « Refuser » form, as the review page renders them."""
    page = client.get(change_url(application)).content.decode()
    start = page.index(f'action="{check_url(application, submission)}"')
    form = page[start : page.index("</form>", start)]
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form)
        if name != "csrfmiddlewaretoken"
    }


def status_events(application) -> int:
    return ApplicationEvent.objects.filter(application=application, kind=EventKind.PIECE_STATUS).count()


def check_error(client, response, submission) -> str:
    page = client.get(response["Location"]).content.decode()
    found = re.findall(rf'<p class="errornote" id="piece-{submission.piece_type_id}-check-error">(.*?)</p>', page)
    return html.unescape(" ".join(found))


def test_validate_does_not_overwrite_a_refusal_made_since_the_page_was_shown(
    client, django_assert_num_queries, centre_manager, colleague, application
):
    """A colleague refused the piece (same file) after the page was opened: « Valider » wrote « Validée » over the
    refusal and the comment the candidate was to read."""
    submission = with_file(application)
    client.force_login(centre_manager)
    shown = shown_form(client, application, submission)
    assert (shown["shown_status"], shown["shown_changed_at"]) == (PieceStatus.SUBMITTED, "")
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=colleague)
    assert status_events(application) == 1

    # session, user, savepoint, memberships, application, scope, piece; savepoint, piece lock (with who changed it:
    # changed since shown, refused), rollback, release, release; what was typed kept for the page (savepoint,
    # session update, release).
    with django_assert_num_queries(15):
        response = client.post(check_url(application, submission), {"status": PieceStatus.VALIDATED, **shown})

    assert response.status_code == 302
    assert response["Location"].endswith(f"#piece-{submission.piece_type_id}")
    submission.refresh_from_db()
    assert (submission.status, submission.comment, submission.status_changed_by) == (
        PieceStatus.REFUSED,
        "scan illisible",
        colleague,
    )
    assert status_events(application) == 1
    # Next to the piece, its name in front; the refusal is on the page to be read again.
    assert CHANGED.format(status="Refused") in check_error(client, response, submission)
    assert shown_form(client, application, submission)["shown_status"] == PieceStatus.REFUSED


def test_a_refusals_comment_changed_since_the_page_was_shown_is_not_overwritten(
    client, centre_manager, colleague, application
):
    """The same status, set again by a colleague with another comment: the moment it was set tells."""
    submission = with_file(application)
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=centre_manager)
    client.force_login(centre_manager)
    shown = shown_form(client, application, submission)
    assert shown["shown_status"] == PieceStatus.REFUSED
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="page 2 manquante", actor=colleague)

    response = client.post(
        check_url(application, submission), {"status": PieceStatus.REFUSED, "comment": "document flou", **shown}
    )

    submission.refresh_from_db()
    assert (submission.status, submission.comment) == (PieceStatus.REFUSED, "page 2 manquante")
    assert status_events(application) == 2
    assert CHANGED.format(status="Refused") in check_error(client, response, submission)


def test_a_check_of_the_status_shown_is_made(client, django_assert_num_queries, centre_manager, application):
    submission = with_file(application)
    client.force_login(centre_manager)
    shown = shown_form(client, application, submission)

    # As before the check (test_admin_review's refusal): the locking query only joins who changed the piece.
    with django_assert_num_queries(14):
        response = client.post(
            check_url(application, submission), {"status": PieceStatus.REFUSED, "comment": "scan illisible", **shown}
        )

    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.comment) == (PieceStatus.REFUSED, "scan illisible")
    assert status_events(application) == 1
    # The page shows the new status, and when it was set, for the next check.
    shown = shown_form(client, application, submission)
    assert shown["shown_status"] == PieceStatus.REFUSED
    client.post(check_url(application, submission), {"status": PieceStatus.VALIDATED, **shown})
    submission.refresh_from_db()
    assert submission.status == PieceStatus.VALIDATED
    assert status_events(application) == 2


def test_a_page_from_before_the_check_posts_no_status_and_is_not_checked(
    client, centre_manager, colleague, application
):
    """A page opened before this version (no ``shown_status``): today's behaviour, the check is made."""
    submission = with_file(application)
    client.force_login(centre_manager)
    shown = shown_form(client, application, submission)
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=colleague)

    client.post(check_url(application, submission), {"status": PieceStatus.VALIDATED, "document": shown["document"]})

    submission.refresh_from_db()
    assert (submission.status, submission.status_changed_by) == (PieceStatus.VALIDATED, centre_manager)


def test_the_service_says_who_changed_the_piece_and_writes_nothing(centre_manager, application):
    submission = with_file(application)
    set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)

    # Validated from another tab of one's own: the page still showed « Transmise ».
    with pytest.raises(InvalidTransition, match=r"changed by yourself \(in another tab or on another device\)"):
        set_piece_status(
            submission=submission,
            status=PieceStatus.REFUSED,
            comment="scan illisible",
            actor=centre_manager,
            shown_status=PieceStatus.SUBMITTED,
        )
    # A forged moment is not the one stored.
    with pytest.raises(InvalidTransition, match=r"status now: Validated"):
        set_piece_status(
            submission=submission,
            status=PieceStatus.REFUSED,
            comment="scan illisible",
            actor=centre_manager,
            shown_status=PieceStatus.VALIDATED,
            shown_changed_at="not a date",
        )

    submission.refresh_from_db()
    assert (submission.status, submission.comment) == (PieceStatus.VALIDATED, "")
    assert status_events(application) == 1
    # Asking for what the piece already is stays a replay: nothing written, nothing refused.
    set_piece_status(
        submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager, shown_status=PieceStatus.SUBMITTED
    )
    assert status_events(application) == 1
