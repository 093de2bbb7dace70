"""The back office's list filters on a centre offer only the centres the user may see (``visible_to``), as the
applications list's own filters do: a manager scoped to one centre never reads another centre's name in a list's
filters (Django's filter on a foreign key listed every centre of the institution). The central office still has
them all. The rows were already scoped; only the filter leaked."""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from applications.models import Tag
from offers.admin_filters import VisibleRelatedFilter
from offers.models import Centre, Commission, DecisionLetterTemplate, Formation
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

# Each list with its exact query count for a manager: the filter's choices are one query, as Django's were.
LISTS = {
    "offers_formation": 11,
    "offers_commission": 10,
    "offers_decisionlettertemplate": 11,
    "applications_tag": 11,
}


@pytest.fixture
def both_centres(centre, commission, other_centre):
    """A row of each list in each centre: the filters would have something to offer either way."""
    other_commission = FormationFactory(centre=other_centre).commission
    FormationFactory(centre=centre, commission=commission)
    for owner in (centre, other_centre):
        Tag.objects.create(centre=owner, label=f"Étiquette {owner.code}")
        DecisionLetterTemplate.objects.create(
            centre=owner, kind=DecisionLetterTemplate.Kind.ADMISSION, title=f"Lettre {owner.code}", body="x"
        )
    return other_commission


def _url(changelist: str) -> str:
    return reverse(f"admin:{changelist}_changelist")


@pytest.mark.parametrize("changelist", LISTS)
@pytest.mark.parametrize("persona", ["centre_manager", "limited_manager"])
def test_a_scoped_manager_reads_no_other_centre_in_the_filters(
    request, client, persona, changelist, both_centres, other_centre, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(LISTS[changelist]):
        response = client.get(_url(changelist))

    assert response.status_code == 200
    assert other_centre.label not in response.text
    assert other_centre.code not in response.text


@pytest.mark.parametrize("changelist", LISTS)
def test_the_central_office_filters_on_every_centre(
    client, central_manager, changelist, both_centres, centre, other_centre
):
    client.force_login(central_manager)

    response = client.get(_url(changelist))

    filters = response.context["cl"].filter_specs
    centre_filter = next(spec for spec in filters if spec.title == "centre")
    offered = {choice["display"] for choice in centre_filter.choices(response.context["cl"])}
    # Each centre by its French name, marked so (RGAA 8.7).
    assert {f'<span lang="fr">{centre.label}</span>', f'<span lang="fr">{other_centre.label}</span>'} <= offered


def test_a_manager_filters_on_their_centre_and_a_forged_one_finds_nothing(
    client, centre_manager, both_centres, centre, other_centre
):
    client.force_login(centre_manager)
    url = _url("applications_tag")

    listing = client.get(url)
    own = client.get(f"{url}?centre__id__exact={centre.pk}")
    forged = client.get(f"{url}?centre__id__exact={other_centre.pk}")

    centre_filter = next(spec for spec in listing.context["cl"].filter_specs if spec.title == "centre")
    assert [label for _pk, label in centre_filter.lookup_choices] == [centre.label]  # and "None": global tags
    assert f"Étiquette {centre.code}" in own.text
    assert forged.status_code == 200
    assert f"Étiquette {other_centre.code}" not in forged.text
    assert not forged.context["cl"].result_count


def test_no_list_filter_of_the_back_office_names_every_centre_commission_or_formation(rf, db):
    """The guard: a list filter on a centre, commission or formation key is a scoped one, for every list (those only
    the central office opens too: the day a manager opens them, they must not leak)."""
    request = rf.get("/gestion/")
    request.user = StaffFactory()  # staff without rights: not the central office
    scoped_models = {Centre, Commission, Formation}
    offenders = []

    for model, model_admin in admin.site._registry.items():
        for entry in model_admin.get_list_filter(request):
            path, filter_class = entry if isinstance(entry, tuple) else (entry, None)
            if not isinstance(path, str):
                continue  # a SimpleListFilter: its own lookups
            field = get_fields_from_path(model, path)[-1]
            unscoped = filter_class is None or not issubclass(filter_class, VisibleRelatedFilter)
            if field.is_relation and field.related_model in scoped_models and unscoped:
                offenders.append(f"{model._meta.label}: {path}")

    assert offenders == []
