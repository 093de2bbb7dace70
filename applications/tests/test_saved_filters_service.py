"""The saved filters' service: the limit per user, the name's rules and the query kept, nothing written on a
refusal."""

import pytest

from applications.models import SavedFilter
from applications.services import saved_filters
from ecandidat.exceptions import BusinessRuleError, FieldRuleError


def test_a_filter_is_saved_without_its_question_mark(centre_manager):
    saved = saved_filters.save_filter(user=centre_manager, label="  Complets  ", query="?dossier_status__exact=CO")

    assert (saved.user, saved.label, saved.query_string) == (centre_manager, "Complets", "dossier_status__exact=CO")


@pytest.mark.parametrize("label", ["", "   "])
def test_a_filter_needs_a_name(centre_manager, label):
    with pytest.raises(FieldRuleError) as refused:
        saved_filters.save_filter(user=centre_manager, label=label, query="")

    assert refused.value.field == "label"
    assert not SavedFilter.objects.exists()


def test_the_limit_per_user_is_kept_and_other_users_are_not_counted(centre_manager, central_manager):
    for number in range(saved_filters.SAVED_FILTERS_MAX):
        saved_filters.save_filter(user=centre_manager, label=f"Filtre {number}", query="")

    with pytest.raises(BusinessRuleError, match="30"):
        saved_filters.save_filter(user=centre_manager, label="Un de trop", query="")
    saved_filters.save_filter(user=central_manager, label="Un de trop", query="")

    assert SavedFilter.objects.filter(user=centre_manager).count() == saved_filters.SAVED_FILTERS_MAX
    assert SavedFilter.objects.filter(user=central_manager).count() == 1


def test_a_second_filter_of_the_same_name_is_refused(centre_manager):
    saved_filters.save_filter(user=centre_manager, label="Complets", query="a=1")

    with pytest.raises(BusinessRuleError, match="Complets"):
        saved_filters.save_filter(user=centre_manager, label="Complets", query="b=2")

    assert list(SavedFilter.objects.values_list("query_string", flat=True)) == ["a=1"]


@pytest.mark.parametrize(
    ("query", "kept"),
    [("?q=a", "q=a"), ("q=a%00", ""), ("q=a\x00", ""), ("x" * 1200, "x" * saved_filters.QUERY_MAX_LENGTH)],
)
def test_the_query_kept_is_one_the_list_makes(query, kept):
    assert saved_filters.clean_query(query) == kept


def test_only_its_owner_deletes_a_filter(centre_manager, central_manager):
    saved = saved_filters.save_filter(user=centre_manager, label="Complets", query="")

    assert saved_filters.delete_filter(user=central_manager, filter_id=saved.pk) is None
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    deleted = saved_filters.delete_filter(user=centre_manager, filter_id=saved.pk)

    assert deleted is not None
    assert deleted.label == "Complets"
    assert not SavedFilter.objects.exists()
