"""Changes of state that left no row in an application's history (house-style §3: every change is written, with
who made it, in words on the staff's page).

Regressions:

- a tag deleted in the back office went off every application that carried it (``ApplicationTag.tag`` cascades)
  with no row on any of them: their history still said « ajoutée « À revoir » » and never that it was taken off;
- the nightly reminder to confirm a favourable decision (``remind_favourable_decisions``, mail
  CANDIDATURE_RELANCE_FAVO) wrote no row, where the reminder to transmit writes one (TRANSMISSION_REMINDED).
"""

import datetime
import html
import io
import re

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from applications.enums import EventKind
from applications.history import tags_change
from applications.models import Application, ApplicationEvent, ApplicationTag, Tag
from applications.services import review
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import change_url, formation_confirmed_by, mails, paris, released
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

# Deleting a tag from its page (the POST), whatever the number of applications carrying it: the session and the user
# (2), the request's savepoint and the view's (4), the tag (1), what its deletion takes with it (1: the links), the
# LogEntry (2: its content type, the row), then the tag locked (1), the links with their labels (1), the history rows
# (one INSERT), the cascade (1: the links) and the tag (1). Without the history rows: 12.
QUERIES_DELETE = 15
# The same by the list's action « Supprimer les étiquettes sélectionnées »: the session and the user (2), the
# request's savepoint (2), the list as the action reads it (5: the centres of its filter, its counts, the tags
# selected), what their deletion takes with them (2: the tags, the links), the LogEntry rows (2), then the tags locked
# (1), the links with their labels (1), the history rows (one INSERT), the tags read again by the deletion (1), the
# cascade (1) and the tags (1). Without the history rows: 16.
QUERIES_DELETE_SELECTED = 19


def history_texts(page: str) -> list[str]:
    """The application history's lines as the reader reads them, without their time (markup and entities undone)."""
    match = re.search(r'<ol class="review-history">(.*?)</ol>', page, re.S)
    assert match is not None
    lines = re.findall(r"<li>.*?</time> — (.*?)</li>", match.group(1), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in lines]


# --- 4. a tag deleted -----------------------------------------------------------------------------------------------


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO")


@pytest.fixture
def a_revoir(centre):
    return Tag.objects.create(label="À revoir", centre=centre)


def tagged(formation, campaign, actor, tags, count):
    """``count`` applications carrying ``tags``, put on by ``actor``, their own rows of it left out."""
    applications = [make_application(formation, campaign=campaign) for _ in range(count)]
    for application in applications:
        review.set_tags(application=application, actor=actor, tags=tags)
    return applications


def removals(application):
    """The application's history rows taking tags off: (actor, (added, removed))."""
    rows = ApplicationEvent.objects.filter(application=application, kind=EventKind.TAGS_CHANGED)
    changes = [(event.actor, tags_change(event.comment)) for event in rows]
    return [(actor, change) for actor, change in changes if change is not None and change[1]]


def test_a_tag_deleted_from_its_page_is_taken_off_each_application_in_its_history(
    client, superuser, centre_manager, formation, campaign, a_revoir
):
    kept = Tag.objects.create(label="Dossier prioritaire")
    first, second = tagged(formation, campaign, centre_manager, [a_revoir, kept], 2)
    untagged = make_application(formation, campaign=campaign)
    client.force_login(superuser)

    response = client.post(reverse("admin:applications_tag_delete", args=[a_revoir.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Tag.objects.filter(pk=a_revoir.pk).exists()
    for application in (first, second):
        assert removals(application) == [(superuser, ([], ["À revoir"]))]
        assert list(application.tag_links.values_list("tag__label", flat=True)) == ["Dossier prioritaire"]
    assert removals(untagged) == []
    page = client.get(change_url(first)).content.decode()
    texts = history_texts(page)
    assert (
        "Étiquettes modifiées par gestionnaire : ajoutées «\xa0À revoir\xa0», «\xa0Dossier prioritaire\xa0»" in texts
    )
    assert "Étiquettes modifiées par root : retirée «\xa0À revoir\xa0»" in texts


def test_tags_deleted_from_the_list_are_taken_off_in_one_row_per_application(
    client, superuser, centre_manager, formation, campaign, a_revoir
):
    urgent = Tag.objects.create(label="Urgent")
    [both] = tagged(formation, campaign, centre_manager, [a_revoir, urgent], 1)
    [one] = tagged(formation, campaign, centre_manager, [urgent], 1)
    client.force_login(superuser)

    response = client.post(
        reverse("admin:applications_tag_changelist"),
        {"action": "delete_selected", "_selected_action": [a_revoir.pk, urgent.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Tag.objects.filter(pk__in=[a_revoir.pk, urgent.pk]).exists()
    assert removals(both) == [(superuser, ([], ["À revoir", "Urgent"]))]
    assert removals(one) == [(superuser, ([], ["Urgent"]))]
    assert not ApplicationTag.objects.exists()
    texts = history_texts(client.get(change_url(both)).content.decode())
    assert "Étiquettes modifiées par root : retirées «\xa0À revoir\xa0», «\xa0Urgent\xa0»" in texts


@pytest.mark.parametrize("count", [2, 6])
def test_deleting_a_tag_costs_the_same_whatever_the_number_of_applications(
    client, django_assert_num_queries, superuser, centre_manager, formation, campaign, a_revoir, count
):
    applications = tagged(formation, campaign, centre_manager, [a_revoir], count)
    client.force_login(superuser)

    with django_assert_num_queries(QUERIES_DELETE):
        response = client.post(reverse("admin:applications_tag_delete", args=[a_revoir.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert [len(removals(application)) for application in applications] == [1] * count


@pytest.mark.parametrize("count", [2, 6])
def test_deleting_tags_from_the_list_costs_the_same_whatever_the_number_of_applications(
    client, django_assert_num_queries, superuser, centre_manager, formation, campaign, a_revoir, count
):
    applications = tagged(formation, campaign, centre_manager, [a_revoir], count)
    client.force_login(superuser)

    with django_assert_num_queries(QUERIES_DELETE_SELECTED):
        response = client.post(
            reverse("admin:applications_tag_changelist"),
            {"action": "delete_selected", "_selected_action": [a_revoir.pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert [len(removals(application)) for application in applications] == [1] * count


def test_the_confirmation_says_in_french_how_many_applications_carry_the_tag(
    client, superuser, centre_manager, formation, campaign, a_revoir
):
    tagged(formation, campaign, centre_manager, [a_revoir], 3)
    client.force_login(superuser)

    page = client.get(reverse("admin:applications_tag_delete", args=[a_revoir.pk])).content.decode()

    # Django's summary above the list of what goes with the tag, in its own French typography (no space before the
    # colon): the applications are named by their links (« Étiquette de candidature: 1/1 »).
    assert "<li>Étiquettes de candidature: 3</li>" in page


def test_a_centre_manager_may_not_delete_a_tag(client, centre_manager, formation, campaign, a_revoir):
    [application] = tagged(formation, campaign, centre_manager, [a_revoir], 1)
    client.force_login(centre_manager)

    response = client.post(reverse("admin:applications_tag_delete", args=[a_revoir.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert removals(application) == []
    assert application.tag_links.exists()


# --- 5. the reminder to confirm -------------------------------------------------------------------------------------


@pytest.fixture
def favourable(centre, commission, campaign, central_manager):
    # Open to candidates past the date de confirmation (30 June 2027): the batch reminds only who can still log in.
    campaign.ends_on = datetime.date(2027, 9, 30)
    campaign.save(update_fields=["ends_on"])
    with time_machine.travel(paris(2027, 5, 1, 12, 0), tick=True):  # before the date de confirmation, 30 June 2027
        return released(formation_confirmed_by(centre, commission), campaign, central_manager, email="fa@example.org")


def remind(moment):
    with time_machine.travel(moment, tick=False):
        call_command("remind_favourable_decisions", stdout=io.StringIO(), stderr=io.StringIO())


def reminded(application):
    return list(
        ApplicationEvent.objects.filter(application=application, kind=EventKind.CONFIRMATION_REMINDED).values_list(
            "actor", "batch", "comment"
        )
    )


def test_the_reminder_to_confirm_is_in_the_history_with_the_batch_and_the_date(
    client, central_manager, favourable, campaign
):
    with time_machine.travel(paris(2027, 5, 1, 12, 0), tick=True):
        other = released(favourable.formation, campaign, central_manager, email="fb@example.org")

    remind(paris(2027, 6, 28, 23, 0))
    remind(paris(2027, 6, 29, 23, 0))  # reminded once: no second mail, no second row

    assert len(mails("CANDIDATURE_RELANCE_FAVO")) == 2
    for application in (favourable, other):
        assert reminded(application) == [(None, "remind_favourable_decisions", "date de confirmation 30/06/2027")]
    client.force_login(central_manager)
    texts = history_texts(client.get(change_url(favourable)).content.decode())
    assert (
        "Relance de confirmation envoyée (traitement « Relance des avis favorables non confirmés ») : "
        "date de confirmation 30/06/2027"
    ) in texts


def test_the_english_page_marks_the_french_date(client, central_manager, favourable):
    remind(paris(2027, 6, 28, 23, 0))
    client.force_login(central_manager)
    client.language = "en"

    page = client.get(change_url(favourable)).content.decode()

    assert "Reminder to confirm sent" in page
    assert '<span lang="fr">date de confirmation 30/06/2027</span>' in page


def test_no_mail_no_row(favourable):
    remind(paris(2027, 6, 27, 12, 0))  # three days before: not yet
    Application.objects.filter(pk=favourable.pk).update(accepted=True, answered_at=paris(2027, 6, 27, 12, 0))
    remind(paris(2027, 6, 29, 23, 0))

    assert mails("CANDIDATURE_RELANCE_FAVO") == []
    assert reminded(favourable) == []
