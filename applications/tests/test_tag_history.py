"""Tags put on and taken off an application are in its history (« Étiquettes », eCandidat §2.3): one row per change,
with its actor, naming the tags added and removed; none when nothing changed; never shown to the candidate.

Regression: the tags form and the bulk « Étiquettes » changed the tags without a trace in the history, a tag taken off
by mistake could not be told from one never put on."""

import html
import re

import pytest
from django.urls import reverse
from django.utils import translation

from applications.admin.review import history_line
from applications.enums import EventKind
from applications.history import record_event, tags_change
from applications.models import ApplicationEvent, ApplicationTag, Tag
from applications.services import review
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import change_url
from applications.workflow import candidate_visible_events
from ecandidat.exceptions import BusinessRuleError
from offers.tests.factories import FormationFactory

# The tags form posted, tags put on and taken off: the session, the user, the scope, the application (and whether
# the user may change it), the tags to put on and take off in one query; in the service's savepoint the lock, the tags
# on it with their labels, the removal, the addition (one INSERT), the history row (one INSERT); three savepoints.
QUERIES_TAGS = 15


@pytest.fixture
def application(centre, commission, campaign):
    formation = FormationFactory(centre=centre, commission=commission, code="MINFO")
    return make_application(formation, campaign=campaign)


@pytest.fixture
def prioritaire():
    return Tag.objects.create(label="Dossier prioritaire")


@pytest.fixture
def a_revoir(centre):
    return Tag.objects.create(label="À revoir", centre=centre)


def tags_url(application):
    return reverse("admin:applications_application_tags", args=[application.pk])


def shown_tags(page: str) -> str:
    """The tags form's ``shown_tags`` as the page holds it."""
    match = re.search(r'<input type="hidden" name="shown_tags" value="([^"]*)">', page)
    assert match is not None
    return html.unescape(match.group(1))


def tag_events(application):
    return list(ApplicationEvent.objects.filter(application=application, kind=EventKind.TAGS_CHANGED))


def history_texts(page: str) -> list[str]:
    """The application history's lines as the reader reads them, without their time (markup and entities undone)."""
    match = re.search(r'<ol class="review-history">(.*?)</ol>', page, re.S)
    assert match is not None
    lines = re.findall(r"<li>.*?</time> — (.*?)</li>", match.group(1), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in lines]


def test_the_form_writes_one_row_naming_the_tags_added_and_removed(
    client, django_assert_num_queries, centre_manager, application, prioritaire, a_revoir
):
    urgent = Tag.objects.create(label="Urgent")
    review.set_tags(application=application, actor=centre_manager, tags=[a_revoir])
    ApplicationEvent.objects.filter(kind=EventKind.TAGS_CHANGED).delete()  # the set-up's own row
    client.force_login(centre_manager)
    page = client.get(change_url(application)).content.decode()

    with django_assert_num_queries(QUERIES_TAGS):
        response = client.post(
            tags_url(application), {"tags": [prioritaire.pk, urgent.pk], "shown_tags": shown_tags(page)}
        )

    assert response.status_code == 302
    [event] = tag_events(application)
    assert event.actor == centre_manager
    assert tags_change(event.comment) == (["Dossier prioritaire", "Urgent"], ["À revoir"])


def test_the_history_says_it_in_english(client, centre_manager, application, prioritaire, a_revoir):
    review.set_tags(application=application, actor=centre_manager, tags=[a_revoir])
    review.set_tags(application=application, actor=centre_manager, tags=[prioritaire])
    client.force_login(centre_manager)
    client.language = "en"

    with translation.override("en"):
        page = client.get(change_url(application)).content.decode()

    texts = history_texts(page)
    assert "Tags changed by gestionnaire: added “À revoir”" in texts
    assert "Tags changed by gestionnaire: added “Dossier prioritaire”; removed “À revoir”" in texts
    # The labels are the staff's French, marked for an English reader's screen reader (RGAA 8.7).
    assert '“<span lang="fr">Dossier prioritaire</span>”' in page


@pytest.mark.usefixtures("back_office_in_french")
def test_the_history_says_it_in_french(client, centre_manager, application, prioritaire, a_revoir):
    """French from the catalogue (locale/fragments/tag_history.po, built by devtools/i18n/build-catalogue.sh)."""
    urgent = Tag.objects.create(label="Urgent")
    review.set_tags(application=application, actor=centre_manager, tags=[a_revoir, urgent])
    review.set_tags(application=application, actor=centre_manager, tags=[prioritaire])
    client.force_login(centre_manager)

    page = client.get(change_url(application)).content.decode()

    texts = history_texts(page)
    assert "Étiquettes modifiées par gestionnaire : ajoutées «\xa0À revoir\xa0», «\xa0Urgent\xa0»" in texts
    assert (
        "Étiquettes modifiées par gestionnaire : ajoutée «\xa0Dossier prioritaire\xa0» ; "
        "retirées «\xa0À revoir\xa0», «\xa0Urgent\xa0»"
    ) in texts


def test_nothing_changed_writes_no_row(client, centre_manager, application, prioritaire):
    review.set_tags(application=application, actor=centre_manager, tags=[prioritaire])
    client.force_login(centre_manager)
    page = client.get(change_url(application)).content.decode()

    client.post(tags_url(application), {"tags": [prioritaire.pk], "shown_tags": shown_tags(page)})  # as shown
    client.post(tags_url(application), {"tags": [prioritaire.pk]})  # a form of before: the same list
    review.change_tags(application=application, actor=centre_manager, add=[prioritaire])  # already on
    review.change_tags(application=application, actor=centre_manager, remove=[Tag.objects.create(label="Jamais")])

    assert len(tag_events(application)) == 1  # the set-up's


def test_a_refused_change_writes_no_row(central_manager, application, other_centre):
    foreign = Tag.objects.create(label="Autre centre", centre=other_centre)

    with pytest.raises(BusinessRuleError, match="another centre"):
        review.change_tags(application=application, actor=central_manager, add=[foreign])

    assert tag_events(application) == []


@pytest.mark.parametrize("count", [1, 6])
def test_the_form_costs_the_same_whatever_the_number_of_tags(
    client, django_assert_num_queries, centre_manager, application, count
):
    on_it = [Tag.objects.create(label=f"Ancienne {index}") for index in range(count)]
    new = [Tag.objects.create(label=f"Nouvelle {index}") for index in range(count)]
    review.set_tags(application=application, actor=centre_manager, tags=on_it)
    client.force_login(centre_manager)
    page = client.get(change_url(application)).content.decode()

    with django_assert_num_queries(QUERIES_TAGS):
        client.post(tags_url(application), {"tags": [tag.pk for tag in new], "shown_tags": shown_tags(page)})

    assert set(ApplicationTag.objects.filter(application=application).values_list("tag__label", flat=True)) == {
        tag.label for tag in new
    }
    *_, event = tag_events(application)
    assert tags_change(event.comment) == ([tag.label for tag in new], [tag.label for tag in on_it])


def test_the_bulk_change_writes_a_row_on_each_application_changed(
    centre_manager, application, prioritaire, a_revoir, centre, commission, campaign
):
    other = make_application(FormationFactory(centre=centre, commission=commission, code="MPHYS"), campaign=campaign)
    review.set_tags(application=other, actor=centre_manager, tags=[prioritaire])

    for each in (application, other):  # what the bulk « Étiquettes » does on a selection
        review.change_tags(application=each, actor=centre_manager, add=[prioritaire], remove=[a_revoir])

    assert [tags_change(event.comment) for event in tag_events(application)] == [(["Dossier prioritaire"], [])]
    assert len(tag_events(other)) == 1  # the set-up's: « Dossier prioritaire » was on it already


def test_the_history_keeps_the_label_of_the_time(centre_manager, application, prioritaire):
    review.set_tags(application=application, actor=centre_manager, tags=[prioritaire])
    prioritaire.label = "Prioritaire"
    prioritaire.save()
    review.set_tags(application=application, actor=centre_manager, tags=[])

    assert [tags_change(event.comment) for event in tag_events(application)] == [
        (["Dossier prioritaire"], []),
        ([], ["Prioritaire"]),
    ]


def test_a_label_is_escaped(centre_manager, application):
    review.set_tags(application=application, actor=centre_manager, tags=[Tag.objects.create(label="<b>Gras</b>")])
    [event] = tag_events(application)

    with translation.override("en"):
        text = history_line(event, {}, with_actor=False).text

    assert text == 'Tags changed: added “<span lang="fr">&lt;b&gt;Gras&lt;/b&gt;</span>”'


def test_the_candidate_never_reads_these_rows(centre_manager, application, prioritaire):
    """Their "Mes données" archive reads the history through ``candidate_visible_events``."""
    record_event(application, actor=centre_manager, kind=EventKind.STATUS, from_status="AT", to_status="RE")
    review.set_tags(application=application, actor=centre_manager, tags=[prioritaire])

    assert tag_events(application)
    visible = ApplicationEvent.objects.filter(candidate_visible_events(), application=application)
    assert list(visible.values_list("kind", flat=True)) == [EventKind.STATUS]
