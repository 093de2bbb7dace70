"""The commission workspace's three fixes of the 5 December review: « Statut du dossier » refused when a colleague
changed the status since the page was shown, history sentences written in the institution's language whoever acts,
and « Ajouter la note » clicked twice saving one note."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.models import Application, ApplicationEvent, ApplicationNote
from applications.services import review, staff
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import make_application, with_file
from applications.tests.helpers import change_url, mails, operation_url
from ecandidat.exceptions import InvalidTransition
from offers.tests.factories import FormationFactory

CHANGELIST = "admin:applications_application_changelist"
# The single status page posted with a status changed since it was shown: the form again, with the refusal.
QUERIES_STALE_STATUS = 20
# « Ajouter la note » posted a second time within the window: nothing written, back to the notes.
QUERIES_NOTE_AGAIN = 11


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)  # « Réceptionné »


def shown_statuses(page: str) -> str:
    """The hidden value the status page holds: each application's status as the page showed it."""
    match = re.search(r'name="shown_statuses" value="([^"]*)"', page)
    assert match, "the status form holds no shown status"
    return match.group(1)


# --- 1. « Statut du dossier » over a colleague's change --------------------------------------------------------------


def test_a_status_changed_by_a_colleague_since_the_page_was_shown_is_not_overwritten(
    client, django_assert_num_queries, centre_manager, central_manager, application
):
    """The reviewer's proof: A opens the form on « Réceptionné » to declare « Incomplet »; a colleague sets
    « Complet »; A confirms. Before: 302, « Incomplet » over « Complet », STATUT_CO then STATUT_IN mailed."""
    client.force_login(centre_manager)
    page = client.get(operation_url(application, "set_status")).content.decode()
    shown = shown_statuses(page)
    assert shown == f"{application.pk}:RE"
    staff.set_dossier_status(application, target=DossierStatus.COMPLETE, actor=central_manager)
    typed = {"target": "IN", "comment": "Il manque l'attestation de stage.", "shown_statuses": shown}

    with django_assert_num_queries(QUERIES_STALE_STATUS):
        refused = client.post(operation_url(application, "set_status"), typed)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.COMPLETE
    assert [mail.code for mail in mails("STATUT_IN")] == []
    assert len(mails("STATUT_CO")) == 1
    assert not ApplicationEvent.objects.filter(application=application, to_status=DossierStatus.INCOMPLETE).exists()
    # The form again, with what was typed and the refusal above it, now holding the status the dossier has.
    assert refused.status_code == 200
    text = refused.content.decode()
    assert "The status of this dossier has changed since the page was shown" in text
    assert "(“Received” then, “Complete” now): nothing was changed." in text
    assert "Il manque l&#x27;attestation de stage." in text
    assert '<option value="IN" selected>' in text
    assert shown_statuses(text) == f"{application.pk}:CO"

    # A second « Confirm », the message read, acts on the status now shown.
    again = client.post(operation_url(application, "set_status"), {**typed, "shown_statuses": shown_statuses(text)})

    assert again.status_code == 302
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.INCOMPLETE
    assert len(mails("STATUT_IN")) == 1


def test_a_stale_complete_is_refused_for_the_status_before_the_pieces(
    client, centre_manager, central_manager, application
):
    """« Complet » chosen on a page of before: the status changed is what is said (not the pieces not validated),
    and nothing is written, not even the forced completion's reason."""
    with_file(application, label="Relevé de notes")
    client.force_login(centre_manager)
    shown = shown_statuses(client.get(operation_url(application, "set_status")).content.decode())
    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=central_manager)

    refused = client.post(
        operation_url(application, "set_status"),
        {"target": "CO", "force_complete": "on", "force_reason": "reçue par courrier", "shown_statuses": shown},
    )

    assert refused.status_code == 200
    assert "(“Received” then, “Incomplete” now)" in refused.content.decode()
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.INCOMPLETE
    assert not ApplicationEvent.objects.filter(kind=EventKind.COMPLETE_FORCED).exists()
    assert not mails("STATUT_CO")


def test_a_selection_reports_the_applications_whose_status_changed(
    client, centre_manager, central_manager, formation, campaign
):
    first = make_application(formation, campaign=campaign)
    second = make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    selection = {"action": "action_set_status", "_selected_action": [first.pk, second.pk]}
    page = client.post(reverse(CHANGELIST), {**selection, "index": "0"}).content.decode()
    shown = shown_statuses(page)
    assert shown == f"{first.pk}:RE,{second.pk}:RE"
    staff.set_dossier_status(second, target=DossierStatus.COMPLETE, actor=central_manager)

    done = client.post(
        reverse(CHANGELIST),
        {**selection, "apply": "1", "target": "IN", "comment": "", "shown_statuses": shown},
        follow=True,
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.dossier_status, second.dossier_status) == (DossierStatus.INCOMPLETE, DossierStatus.COMPLETE)
    assert [mail.to for mail in mails("STATUT_IN")] == [first.candidate.user.email]
    messages = [str(message) for message in done.context["messages"]]
    assert "Set the dossier status: 1 application done." in messages
    refusals = [message for message in messages if "has changed since the page was shown" in message]
    assert len(refusals) == 1
    assert second.candidate.user.username in refusals[0]
    assert first.candidate.user.username not in refusals[0]


def test_the_service_refuses_a_status_other_than_the_one_shown(centre_manager, application):
    with pytest.raises(InvalidTransition, match="“Complete” then, “Received” now"):
        staff.set_dossier_status(
            application, target=DossierStatus.INCOMPLETE, actor=centre_manager, expected_status=DossierStatus.COMPLETE
        )
    staff.set_dossier_status(
        application, target=DossierStatus.INCOMPLETE, actor=centre_manager, expected_status=DossierStatus.RECEIVED
    )

    assert Application.objects.get(pk=application.pk).dossier_status == DossierStatus.INCOMPLETE


@pytest.mark.parametrize("forged", ["x:ZZ", "²:RE", "1" + "0" * 5000 + ":RE"], ids=["letters", "superscript", "huge"])
def test_a_forged_shown_status_is_a_form_error_not_a_500(client, centre_manager, application, forged):
    """« ² » passes ``str.isdigit`` and ``int()`` refuses it, as a number of 5,000 digits: both were a 500."""
    client.force_login(centre_manager)

    response = client.post(operation_url(application, "set_status"), {"target": "IN", "shown_statuses": forged})

    assert response.status_code == 200
    assert "This page is out of date: open it again." in response.content.decode()
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


# --- 2. the history in the institution's language -------------------------------------------------------------------


def test_history_sentences_written_by_an_english_speaker_read_in_french(
    client, centre_manager, commission_member, application
):
    """Deadlines extended, a piece refused with a date to replace it by, a note deleted: by staff whose back office
    is in English, each row was stored in English (« return deadline: 15 Jan 2027 ») and read so by French readers."""
    day = timezone.localdate() + datetime.timedelta(days=100)
    piece = with_file(application, label="Relevé de notes")
    with translation.override("en"):
        staff.extend_deadlines(application, actor=centre_manager, return_deadline=day, confirmation_date=day)
        set_piece_status(
            submission=piece,
            status=PieceStatus.REFUSED,
            comment="scan illisible",
            actor=centre_manager,
            replace_by=day,
        )
        note = review.add_note(application=application, actor=commission_member, text="Entretien à prévoir")
        review.delete_note(note=note, actor=commission_member)
    french_day = f"{day:%d/%m/%Y}"
    client.force_login(centre_manager)

    client.language = "fr"
    page = client.get(change_url(application)).content.decode()
    client.language = "en"
    english_page = client.get(change_url(application)).content.decode()

    deadlines = f"date limite de retour : {french_day} ; date de confirmation : {french_day}"
    replace = f"scan illisible (à remplacer au plus tard le {french_day})"
    note_deleted = "note de membre du "
    assert deadlines in page
    assert replace in page
    assert note_deleted in page
    for english in ("return deadline", "confirmation date", "to replace by", "note by membre of", f"{day:%b %Y}"):
        assert english not in page
    # An English reader gets them marked French (RGAA 8.7).
    assert f'<span lang="fr">{deadlines}</span>' in english_page
    assert f'<span lang="fr">{replace}</span>' in english_page
    assert f'<span lang="fr">{note_deleted}' in english_page


# --- 3. « Ajouter la note » clicked twice ----------------------------------------------------------------------------


def note_url(application):
    return reverse("admin:applications_application_note", args=[application.pk])


def test_a_note_posted_twice_is_saved_once(client, django_assert_num_queries, commission_member, application):
    client.force_login(commission_member)
    client.post(note_url(application), {"text": "Très bon dossier, à auditionner."})

    with django_assert_num_queries(QUERIES_NOTE_AGAIN):
        again = client.post(note_url(application), {"text": "Très bon dossier, à auditionner.\r\n"})
    page = client.get(again["Location"])

    assert list(ApplicationNote.objects.values_list("text", flat=True)) == ["Très bon dossier, à auditionner."]
    assert page.content.decode().count("Très bon dossier, à auditionner.") == 1
    assert [str(message) for message in page.context["messages"]] == ["Note added.", "Note added."]


def test_the_same_note_is_saved_again_after_the_window_or_by_someone_else(
    commission_member, centre_manager, application
):
    first = review.add_note(application=application, actor=commission_member, text="À revoir")
    review.add_note(application=application, actor=centre_manager, text="À revoir")  # a colleague's own note
    ApplicationNote.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - review.NOTE_REPEAT_WINDOW - datetime.timedelta(seconds=1)
    )
    review.add_note(application=application, actor=commission_member, text="À revoir")  # written again, later
    review.add_note(application=application, actor=commission_member, text="À revoir aussi")

    assert ApplicationNote.objects.filter(author=commission_member).count() == 3
    assert ApplicationNote.objects.filter(author=centre_manager).count() == 1
