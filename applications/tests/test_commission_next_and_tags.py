"""The commission's workspace read one dossier after another: « Confirmer et passer à la suivante » on a list sorted
by what the action changes, and the tags saved from a page opened before a colleague changed them."""

import html
import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from applications.models import Application, ApplicationTag, Tag
from applications.services import review, staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import change_url, operation_url
from offers.enums import Avis
from offers.tests.factories import FormationFactory

CHANGELIST = "admin:applications_application_changelist"

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO")


def listed_ids(client, filters: str) -> list[int]:
    """The applications' ids as the list shows them, in its order."""
    return [row.pk for row in client.get(reverse(CHANGELIST) + "?" + filters).context["cl"].result_list]


# --- « Confirmer et passer à la suivante » --------------------------------------------------------------------------


def test_next_after_an_avis_on_a_list_sorted_by_decision_is_the_next_one_to_judge(
    client, django_assert_num_queries, centre_manager, commission_member, formation, campaign
):
    """Sorted by the Décision column, the undecided dossiers together: the next dossier was worked out after the avis,
    where the dossier now sits among the « Favorable » ones, and the button opened one already judged."""
    judged = make_application(formation, campaign=campaign)
    staff.record_decision(judged, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    for _ in range(3):
        make_application(formation, campaign=campaign)
    filters = "o=6"  # by decision
    client.force_login(commission_member)
    before = listed_ids(client, filters)
    # The first undecided dossier followed by another one (the judged one is first or last, by the database's NULLs).
    first = next(pk for index, pk in enumerate(before[:-1]) if judged.pk not in (pk, before[index + 1]))
    following = before[before.index(first) + 1]
    application = Application.objects.get(pk=first)
    url = operation_url(application, "enter_decision") + "?" + urlencode({"_changelist_filters": filters})

    with django_assert_num_queries(23):  # the list's ids once, before the avis
        response = client.post(url, {"decision_type": decision_type(Avis.FAVOURABLE).pk, "_next": "1"})

    expected = change_url(Application.objects.get(pk=following)) + "?" + urlencode({"_changelist_filters": filters})
    assert response.url == expected
    assert application.decisions.get().decision_type.avis == Avis.FAVOURABLE
    after = listed_ids(client, filters)
    assert after[after.index(first) + 1] == judged.pk  # where it sits now: next to the dossier already judged


def test_next_after_leaving_a_filtered_list_is_still_the_one_after_it(
    client, django_assert_num_queries, commission_member, formation, campaign
):
    """The dossier leaves the list « sans avis » as it gets one: the next one is the one that followed it."""
    first, second = make_application(formation, campaign=campaign), make_application(formation, campaign=campaign)
    first, second = sorted([first, second], key=lambda a: a.candidate.user.username)
    filters = urlencode({"_changelist_filters": "decision=none&o=2"})
    client.force_login(commission_member)

    with django_assert_num_queries(26):  # the list's ids once, before the avis: no widened list afterwards
        response = client.post(
            operation_url(first, "enter_decision") + "?" + filters,
            {"decision_type": decision_type(Avis.FAVOURABLE).pk, "_next": "1"},
        )

    assert response.url == change_url(second) + "?" + filters


# --- tags from a page opened before a colleague changed them -------------------------------------------------------


def tags_url(application):
    return reverse("admin:applications_application_tags", args=[application.pk])


def shown_tags(page: str) -> str:
    """The tags form's ``shown_tags`` as the page holds it."""
    match = re.search(r'<input type="hidden" name="shown_tags" value="([^"]*)">', page)
    assert match is not None
    return html.unescape(match.group(1))


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


@pytest.fixture
def prioritaire():
    return Tag.objects.create(label="Prioritaire")


@pytest.fixture
def entretien(centre):
    return Tag.objects.create(label="Entretien", centre=centre)


def on_it(application) -> dict[str, str]:
    return dict(ApplicationTag.objects.filter(application=application).values_list("tag__label", "added_by__username"))


def test_a_tag_a_colleague_put_on_meanwhile_stays(
    client, django_assert_num_queries, centre_manager, central_manager, application, prioritaire, entretien
):
    """A opens the dossier; a colleague puts « Prioritaire » on it; A ticks « Entretien » and saves: the tags form
    posted its whole list, and « Prioritaire », not in it, was taken off without a word."""
    client.force_login(centre_manager)
    page = client.get(change_url(application)).content.decode()
    review.change_tags(application=application, actor=central_manager, add=[prioritaire])

    with django_assert_num_queries(14):  # the tags in one query; the lock, the tags on it, the history row
        response = client.post(tags_url(application), {"tags": [entretien.pk], "shown_tags": shown_tags(page)})

    assert response.status_code == 302
    assert on_it(application) == {
        "Prioritaire": central_manager.username,
        "Entretien": centre_manager.username,  # who put it on
    }


def test_a_tag_a_colleague_took_off_meanwhile_is_not_put_back(
    client, centre_manager, central_manager, application, prioritaire, entretien
):
    """The page showed « Prioritaire » ticked; a colleague took it off; A, who left it ticked, adds « Entretien »:
    « Prioritaire » is not put back (A did not tick it), « Entretien » is on."""
    review.change_tags(application=application, actor=central_manager, add=[prioritaire])
    client.force_login(centre_manager)
    page = client.get(change_url(application)).content.decode()
    assert shown_tags(page).split() == [str(prioritaire.pk)]
    review.change_tags(application=application, actor=central_manager, remove=[prioritaire])

    client.post(tags_url(application), {"tags": [prioritaire.pk, entretien.pk], "shown_tags": shown_tags(page)})

    assert on_it(application) == {"Entretien": centre_manager.username}


def test_a_tag_unticked_is_taken_off_and_only_it(client, centre_manager, central_manager, application, entretien):
    """What A changed still applies: the box A unticked goes, a colleague's tag put on meanwhile stays."""
    urgent = Tag.objects.create(label="Urgent")
    review.change_tags(application=application, actor=centre_manager, add=[entretien])
    client.force_login(centre_manager)
    page = client.get(change_url(application)).content.decode()
    review.change_tags(application=application, actor=central_manager, add=[urgent])

    response = client.post(tags_url(application), {"shown_tags": shown_tags(page)}, follow=True)

    assert on_it(application) == {"Urgent": central_manager.username}
    assert "Étiquettes enregistrées (0 ajoutée, 1 retirée)." in response.content.decode()
