"""One staff 404/403 rule for every back-office view (``ecandidat.staff.object_in_scope_or_404``): outsiders get a
404, staff who see an application but may not do this a 403, whoever is no member of staff a 403."""

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from applications.enums import PieceStatus
from applications.models import Application, ApplicationNote
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import make_application, with_file
from ecandidat.exceptions import FieldRuleError
from ecandidat.staff import object_in_scope_or_404
from offers.tests.factories import FormationFactory


@pytest.fixture
def application(centre, commission, campaign):
    return make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)


OK = "found"


@pytest.mark.parametrize(
    ("persona", "allowed_by", "expected"),
    [
        ("anonymous", None, Http404),  # no member of staff: a staff URL is as missing as a row out of scope
        ("candidate", None, Http404),
        ("other_centre_manager", None, Http404),
        ("other_centre_manager", "editable_by", Http404),
        ("read_only", None, OK),
        ("read_only", "decidable_by", PermissionDenied),
        ("commission_member", "decidable_by", OK),
        ("commission_member", "editable_by", PermissionDenied),
        ("centre_manager", "editable_by", OK),
        ("central_manager", "validatable_by", OK),
    ],
    indirect=["persona"],
)
def test_object_in_scope_or_404_per_persona(persona, allowed_by, expected, application):
    def lookup():
        return object_in_scope_or_404(
            Application.objects.select_related("formation"), persona, allowed_by=allowed_by, pk=application.pk
        )

    if expected is OK:
        assert lookup() == application
    else:
        with pytest.raises(expected):
            lookup()


def test_object_in_scope_or_404_queries(django_assert_num_queries, centre_manager, application):
    centre_manager.staff_scope  # noqa: B018  (computed once per user object; a request has it from the admin check)
    with django_assert_num_queries(2):  # the object in the visible scope, then the action's scope (exists)
        object_in_scope_or_404(Application.objects.all(), centre_manager, allowed_by="editable_by", pk=application.pk)
    with django_assert_num_queries(1):
        object_in_scope_or_404(Application.objects.all(), centre_manager, pk=application.pk)


# Django's own object pages keep the admin's behaviour for a row it cannot find (a redirect to the list with a
# message), which shows nothing of the row; every page the project adds must answer an outsider with a 404.
DJANGO_OBJECT_PAGES = {"applications_application_history", "applications_application_delete"}


def test_no_staff_view_of_an_application_lets_an_outsider_through(client, other_centre_manager, application):
    """Every URL of the applications admin that names an application, in every method: an outsider (another
    centre's manager) gets a 404 (or a 405 for a method the view refuses before looking), never the page."""
    submission = with_file(application)
    note = ApplicationNote.objects.create(application=application, author=other_centre_manager, text="x")
    values = {
        "object_id": application.pk,
        "piece_id": submission.public_id,
        "name": "set_status",
        "note_id": note.pk,
    }
    model_admin = admin.site._registry[Application]
    routes = [
        pattern
        for pattern in model_admin.get_urls()
        if pattern.name and "object_id" in pattern.pattern.converters and pattern.name not in DJANGO_OBJECT_PAGES
    ]
    names = {pattern.name for pattern in routes}
    assert {  # the list is not empty by accident: the project's pages on one application are in it
        "applications_application_change",
        "applications_application_operation",
        "applications_application_piece_check",
        "applications_application_piece_preview",
        "applications_application_validate_pieces",
        "applications_application_note",
        "applications_application_note_delete",
        "applications_application_tags",
    } <= names
    client.force_login(other_centre_manager)
    for pattern in routes:
        url = reverse(f"admin:{pattern.name}", kwargs={key: values[key] for key in pattern.pattern.converters})
        answers = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
        assert set(answers.values()) <= {404, 405}, (pattern.name, answers)
        assert 404 in answers.values(), (pattern.name, answers)


def test_the_reading_page_shows_the_services_rule(client, django_assert_num_queries, centre_manager, application):
    """The reading page checks nothing itself: the service refuses a refusal without a comment, naming the field,
    and the page shows its message; nothing is written."""
    submission = with_file(application)
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])

    # 11 before sessions were refreshed only when due (issue 14); the reading page's check keeps what was typed in
    # the session for the page it returns to (savepoint, update, release).
    with django_assert_num_queries(11):
        response = client.post(url, {"status": "RE", "comment": "   "})

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert '<span lang="fr">Relevé de notes</span>: give a comment to refuse a piece; the candidate reads it.' in page
    submission.refresh_from_db()
    assert (submission.status, submission.comment) == (PieceStatus.SUBMITTED, "")


def test_the_service_names_the_refused_field(centre_manager, application):
    submission = with_file(application)
    with pytest.raises(FieldRuleError) as refused:
        set_piece_status(submission=submission, status="RE", comment=" " * 600, actor=centre_manager)
    assert refused.value.field == "comment"
    with pytest.raises(FieldRuleError) as refused:
        set_piece_status(submission=submission, status="XX", actor=centre_manager)
    assert refused.value.field == "status"


@pytest.mark.usefixtures("back_office_in_french")
def test_a_refused_member_of_staff_is_offered_the_way_back_to_the_back_office(
    client, django_assert_num_queries, commission_member, application
):
    """Walk of 2026-12-03: a commission member sent to a manager's operation (« Statut du dossier ») got the refusal
    page whose only way out was the candidates' home page. Staff are offered the back office first."""
    client.force_login(commission_member)
    url = reverse("admin:applications_application_operation", args=[application.pk, "set_status"])

    # Session, user, the memberships and the application in scope (in the savepoint of an atomic request): the
    # refusal page reads nothing more.
    with django_assert_num_queries(7):
        response = client.get(url)

    assert response.status_code == 403
    page = response.content.decode()
    assert f'<a class="button button--primary" href="{reverse("admin:index")}">Retour à la gestion</a>' in page
    assert f"""<a class="button" href="{reverse("home")}">Retour à l'accueil</a>""" in page
