"""A dossier's changes in one history row (``services.dossier.changes_comment``): they were cut at 1,000
characters in the middle of a word, and the last ones (a cursus taken again from the SIS, written last) vanished
without a sign. Whole changes, up to ``CHANGES_COMMENT_MAX``; those left out are counted."""

import pytest

from applications.enums import EventKind
from applications.models import ApplicationEvent
from applications.services.dossier import CHANGES_COMMENT_MAX, changes_comment, record_staff_change
from applications.tests.factories_candidature import make_application
from offers.tests.factories import FormationFactory


def _cursus_line(year: int) -> str:
    return f"Cursus interne : ajout ({year}-{year + 1} Licence Sciences de la vie, parcours biologie, ADM)"


@pytest.mark.django_db
def test_a_staff_change_longer_than_1000_characters_is_written_whole(centre, commission, campaign, centre_manager):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    changes = [_cursus_line(year) for year in range(2000, 2020)]  # 20 lines, about 1,700 characters

    record_staff_change(candidate=application.candidate, actor=centre_manager, changes=changes)

    event = ApplicationEvent.objects.get(application=application, kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    assert event.comment == "; ".join(changes)
    assert event.comment.endswith("(2019-2020 Licence Sciences de la vie, parcours biologie, ADM)")


def test_changes_beyond_the_limit_are_counted_never_cut_in_a_word(settings):
    settings.LANGUAGE_CODE = "fr"
    changes = [_cursus_line(year) for year in range(1900, 2000)]  # 100 lines, about 8,500 characters

    comment = changes_comment(changes)

    assert len(comment) <= CHANGES_COMMENT_MAX
    kept, _sep, count = comment.rpartition(" … et ")
    assert all(part in changes for part in kept.split("; "))  # every change written is whole
    left = len(changes) - len(kept.split("; "))
    assert count == f"{left} autres modifications"


def test_one_change_longer_than_the_limit_is_cut_where_a_word_ends():
    change = "Stage : ajout (" + "mission " * 1000 + ")"

    comment = changes_comment([change])

    assert len(comment) <= CHANGES_COMMENT_MAX
    assert comment.endswith("mission…")


def test_a_short_list_is_joined_as_it_is():
    assert changes_comment(["Adresse : commune : PERPIGNAN → CANET", "Stage : ajout (2024 Mairie)"]) == (
        "Adresse : commune : PERPIGNAN → CANET; Stage : ajout (2024 Mairie)"
    )
