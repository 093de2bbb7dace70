"""Deleting an internal note (eCandidat's bloc-notes, §2.3: "add or delete notes"): who may, what the page offers,
what the history keeps, query counts."""

import pytest
from django.urls import reverse

from applications.enums import EventKind
from applications.models import ApplicationEvent, ApplicationNote
from applications.services import review
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import change_url
from ecandidat.exceptions import BusinessRuleError
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

QUERIES_DELETE = 13


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")
    return make_application(formation, campaign=campaign)


@pytest.fixture
def note(application, commission_member):
    return review.add_note(application=application, actor=commission_member, text="Entretien raté, à revoir")


def delete_url(note):
    return reverse("admin:applications_application_note_delete", args=[note.application_id, note.pk])


@pytest.mark.parametrize(
    ("persona", "expected", "left"),
    [
        ("candidate", 302, 1),  # sent to the login page
        ("centre_manager", 403, 1),  # writes notes, but not this one's author
        ("other_centre_manager", 404, 1),
        ("commission_member", 302, 0),  # the author
        ("central_manager", 302, 0),  # any note
        ("read_only", 403, 1),  # writes no note
    ],
    indirect=["persona"],
)
def test_delete_note_personas(client, persona, note, expected, left):
    client.force_login(persona)

    response = client.post(delete_url(note))

    assert response.status_code == expected
    assert ApplicationNote.objects.count() == left


def test_the_author_deletes_the_note_and_the_history_keeps_who_not_the_text(
    client, django_assert_num_queries, commission_member, application, note
):
    client.force_login(commission_member)

    with django_assert_num_queries(QUERIES_DELETE):
        response = client.post(delete_url(note))
    page = client.get(response.url).content.decode()

    assert response.url.startswith(change_url(application))
    assert response.url.endswith("#notes")
    assert not ApplicationNote.objects.exists()
    event = ApplicationEvent.objects.get(kind=EventKind.NOTE_DELETED)
    assert event.actor == commission_member
    assert event.comment.startswith("note de membre du ")
    assert "Note supprimée." in page
    assert 'Note interne supprimée par membre : <span lang="fr">note de membre du ' in page
    assert "Entretien raté" not in page


def test_the_page_offers_deletion_to_the_author_and_the_central_office_only(
    client, django_assert_num_queries, commission_member, centre_manager, central_manager, application, note
):
    button = f'action="{delete_url(note)}"'
    offered = {}
    for user in (commission_member, centre_manager, central_manager):
        client.force_login(user)
        offered[user.username] = button in client.get(change_url(application)).content.decode()

    assert offered == {"membre": True, "gestionnaire": False, "scolarite": True}


def test_the_offer_is_a_disclosure_that_works_without_javascript(client, commission_member, application, note):
    client.force_login(commission_member)

    page = client.get(change_url(application)).content.decode()

    assert '<details class="review-note-delete"><summary>Supprimer…</summary>' in page
    assert "Supprimer la note du " in page
    assert "La note est supprimée définitivement ; l'historique garde qui l'a supprimée" in page


def test_another_applications_note_is_not_found(client, commission_member, application, note, centre, campaign):
    other = make_application(application.formation, campaign=campaign)
    client.force_login(commission_member)

    response = client.post(reverse("admin:applications_application_note_delete", args=[other.pk, note.pk]))

    assert response.status_code == 404
    assert ApplicationNote.objects.count() == 1


def test_get_is_refused(client, commission_member, note):
    client.force_login(commission_member)
    assert client.get(delete_url(note)).status_code == 405


def test_the_service_refuses_someone_else(centre_manager, note):
    with pytest.raises(BusinessRuleError, match="Seuls l'auteur d'une note et la scolarité centrale"):
        review.delete_note(note=note, actor=centre_manager)

    assert ApplicationNote.objects.count() == 1
    assert not ApplicationEvent.objects.filter(kind=EventKind.NOTE_DELETED).exists()


def test_a_note_deleted_twice_is_recorded_once(commission_member, note):
    review.delete_note(note=note, actor=commission_member)
    review.delete_note(note=note, actor=commission_member)  # a second tab

    assert ApplicationEvent.objects.filter(kind=EventKind.NOTE_DELETED).count() == 1


def note_url(application):
    return reverse("admin:applications_application_note", args=[application.pk])


def test_a_note_at_the_textarea_limit_with_line_breaks_is_kept(client, commission_member, application):
    """The browser counts a line break as one character against ``maxlength`` and posts it as CR LF: a note that
    fitted the textarea is saved, with ``\\n`` line ends."""
    typed = "\n".join(["x" * 199] * 10)[: review.NOTE_MAX_LENGTH]
    client.force_login(commission_member)

    client.post(note_url(application), {"text": typed.replace("\n", "\r\n")})

    assert list(ApplicationNote.objects.values_list("text", flat=True)) == [typed]


def test_a_refused_note_comes_back_in_the_form_with_its_message(client, commission_member, application):
    too_long = "Dossier solide. " * 130  # 2,080 characters
    client.force_login(commission_member)

    response = client.post(note_url(application), {"text": too_long})
    page = client.get(response["Location"]).content.decode()

    assert not ApplicationNote.objects.exists()
    assert 'aria-describedby="note-text-error"' in page
    assert "Une note compte au plus 2000 caractères.</p>" in page.split('id="note-text-error"')[1]
    assert too_long.strip() in page.split('id="note-text"')[1]
    assert "<title>Erreur : " in page  # the title says it first, as after a refused « Saisir un avis » (RGAA 11.10)
    # Shown once: the next visit has an empty form.
    again = client.get(response["Location"]).content.decode()
    assert 'id="note-text-error"' not in again
    assert "<title>Erreur" not in again
