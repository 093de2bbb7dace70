"""No lost update on the dossier (eCandidat's LOCK_*, ecandidat-features §1.3): every form carries the version it was
read at (``read_at``, the section's ``updated_at``); a save made after the section changed meanwhile (the candidate
in another tab, a member of staff) writes nothing and shows who changed it and when, the values typed, and the values
stored; saving again then goes through (``applications.concurrency``)."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.tests.mfa import Client
from applications import services
from applications.concurrency import EditConflict, version_of
from applications.models import Address, Baccalaureate, Candidate, Internship
from applications.tests.factories import AddressFactory, BaccalaureateFactory, InternshipFactory
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import dossier_form_data
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

ADDRESS = {"line1": "1 rue du Test", "postal_code": "66000", "city": "PERPIGNAN", "country": "FR"}
INTERNSHIP = {"year": "2024", "duration": "3 mois", "hours_per_week": "35", "organisation": "Labo", "description": ""}


def _posted(form_page) -> str:
    """The version a rendered form carries (its hidden ``read_at``)."""
    return form_page.context["form"]["read_at"].value()


# --- Services: two reads, two writes ------------------------------------------------------------------------------


def test_the_second_of_two_address_saves_read_at_the_same_version_is_refused(candidate):
    address = AddressFactory(candidate=candidate, city="PERPIGNAN")
    read_at = version_of(address)  # both read the address here
    services.save_address(candidate=candidate, data={"city": "CANET"}, actor=candidate.user, read_at=read_at)

    with pytest.raises(EditConflict) as refused:
        services.save_address(candidate=candidate, data={"city": "ELNE"}, actor=candidate.user, read_at=read_at)

    assert Address.objects.get(candidate=candidate).city == "CANET"  # nothing written by the second
    assert refused.value.changed_by == candidate.user
    assert refused.value.current.city == "CANET"


def test_an_address_created_meanwhile_is_a_conflict_not_a_second_address(candidate):
    services.save_address(candidate=candidate, data=ADDRESS, actor=candidate.user, read_at="")

    with pytest.raises(EditConflict):
        services.save_address(candidate=candidate, data={**ADDRESS, "city": "ELNE"}, actor=candidate.user, read_at="")

    assert Address.objects.get(candidate=candidate).city == "PERPIGNAN"


def test_the_second_of_two_personal_details_saves_is_refused(candidate, centre_manager):
    read_at = version_of(candidate)
    services.save_personal_details(
        user=candidate.user, candidate=candidate, data={"phone": "+33468000001"}, actor=centre_manager, read_at=read_at
    )

    with pytest.raises(EditConflict) as refused:
        services.save_personal_details(
            user=candidate.user,
            candidate=candidate,
            data={"phone": "+33468000002"},
            actor=candidate.user,
            read_at=read_at,
        )

    candidate.refresh_from_db()
    assert candidate.phone == "+33468000001"
    assert refused.value.changed_by == centre_manager
    assert "the admissions office" in refused.value.message_for(candidate.user, owner=candidate.user)


def test_the_second_of_two_bac_edits_is_refused(candidate):
    bac = BaccalaureateFactory(candidate=candidate, year=2019)
    read_at = version_of(bac)
    services.update_baccalaureate(candidate=candidate, data={"year": 2018}, actor=candidate.user, read_at=read_at)

    with pytest.raises(EditConflict):
        services.update_baccalaureate(candidate=candidate, data={"year": 2017}, actor=candidate.user, read_at=read_at)

    assert Baccalaureate.objects.get(candidate=candidate).year == 2018


def test_a_row_edited_or_deleted_meanwhile_is_neither_overwritten_nor_deleted(candidate):
    row = InternshipFactory(candidate=candidate, organisation="Labo")
    read_at = version_of(row)
    services.update_row(row=row, data={"organisation": "Observatoire"}, actor=candidate.user, read_at=read_at)

    with pytest.raises(EditConflict):
        services.update_row(row=row, data={"organisation": "Autre"}, actor=candidate.user, read_at=read_at)
    with pytest.raises(EditConflict):
        services.delete_row(row=row, actor=candidate.user, read_at=read_at)

    assert Internship.objects.get(pk=row.pk).organisation == "Observatoire"


def test_editing_a_row_deleted_meanwhile_says_so(candidate):
    row = InternshipFactory(candidate=candidate)
    read_at = version_of(row)
    services.delete_row(row=row, actor=candidate.user, read_at=read_at)

    with pytest.raises(EditConflict) as refused:
        services.update_row(row=row, data={"organisation": "Autre"}, actor=candidate.user, read_at=read_at)

    assert refused.value.current is None
    assert not Internship.objects.filter(pk=row.pk).exists()


# --- Views: two tabs of the candidate -----------------------------------------------------------------------------


def test_two_tabs_the_second_address_save_comes_back_with_the_typed_values_and_the_stored_ones(
    owner_client, candidate, django_assert_num_queries
):
    AddressFactory(candidate=candidate, city="PERPIGNAN", postal_code="66000")
    tab_1 = _posted(owner_client.get(reverse("applications:address")))
    tab_2 = tab_1
    owner_client.post(reverse("applications:address"), {**ADDRESS, "city": "CANET", "read_at": tab_1})

    # +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(12):  # session, user, dossier; the lock, the address again; the page's own
        response = owner_client.post(reverse("applications:address"), {**ADDRESS, "city": "ELNE", "read_at": tab_2})

    assert response.status_code == 200
    assertContains(response, 'role="alert"')
    assertContains(response, "This section was changed by yourself (in another tab or on another device) on")
    assertContains(response, 'value="ELNE"')  # what was typed, kept
    assertContains(response, "<dd>CANET</dd>", html=True)  # what is stored, to compare
    assert Address.objects.get(candidate=candidate).city == "CANET"


@pytest.mark.parametrize("forged", ["a\x00b", "\u202e", "x" * 5000])
def test_a_forged_version_is_a_conflict_not_an_error_on_a_hidden_field(
    owner_client, candidate, django_assert_num_queries, forged
):
    """Regression (hostile-input audit, 2026-12-03): a NUL in the hidden ``read_at`` was refused on that field,
    « (Champ masqué read_at) Le caractère nul n'est pas autorisé. » at the top of the page. A version that is no
    version is now a conflict: the usual message, the values typed kept, nothing written; saving again works."""
    AddressFactory(candidate=candidate, city="PERPIGNAN", postal_code="66000")

    # +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(11):  # a conflict: the address read again under the lock, nothing written
        response = owner_client.post(reverse("applications:address"), {**ADDRESS, "city": "ELNE", "read_at": forged})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["__all__"]
    assertContains(response, "This section was changed by")
    assertContains(response, 'value="ELNE"')
    assert Address.objects.get(candidate=candidate).city == "PERPIGNAN"
    again = owner_client.post(
        reverse("applications:address"), {**ADDRESS, "city": "ELNE", "read_at": _posted(response)}
    )
    assert again.status_code == 302
    assert Address.objects.get(candidate=candidate).city == "ELNE"


def test_a_forged_version_on_the_staff_dossier_page_is_a_conflict(client, centre_manager, application):
    client.force_login(centre_manager)
    admin_url = reverse("admin:applications_candidate_change", args=[application.candidate.pk])
    staff_data = dossier_form_data(client.get(admin_url))

    response = client.post(admin_url, {**staff_data, "read_at": "a\x00b"})

    assert response.status_code == 200
    assert "read_at" not in response.context["adminform"].form.errors
    assertContains(response, 'role="alert"')


def test_a_plain_resubmit_after_the_conflict_message_saves(owner_client, candidate):
    AddressFactory(candidate=candidate, city="PERPIGNAN")
    read_at = _posted(owner_client.get(reverse("applications:address")))
    owner_client.post(reverse("applications:address"), {**ADDRESS, "city": "CANET", "read_at": read_at})
    refused = owner_client.post(reverse("applications:address"), {**ADDRESS, "city": "ELNE", "read_at": read_at})

    response = owner_client.post(
        reverse("applications:address"), {**ADDRESS, "city": "ELNE", "read_at": _posted(refused)}
    )

    assert response.status_code == 302
    assert Address.objects.get(candidate=candidate).city == "ELNE"


def test_two_tabs_personal_details(owner_client, candidate):
    page = owner_client.get(reverse("applications:personal_details"))
    data = {
        name: form_field.value() or ""
        for name, form_field in ((f.name, f) for f in page.context["form"])
        if not form_field.field.disabled
    }
    data.update(birth_date=candidate.birth_date.isoformat(), ine="1234567890V")
    owner_client.post(reverse("applications:personal_details"), {**data, "phone": "0468000001"})

    response = owner_client.post(reverse("applications:personal_details"), {**data, "phone": "0468000002"})

    assertContains(response, "This section was changed by yourself")
    candidate.refresh_from_db()
    assert candidate.phone == "+33468000001"


def test_two_tabs_editing_a_row(owner_client, candidate, django_assert_num_queries):
    row = InternshipFactory(candidate=candidate, organisation="Labo")
    url = reverse("applications:internship_edit", args=[row.public_id])
    read_at = _posted(owner_client.get(url))
    owner_client.post(url, {**INTERNSHIP, "organisation": "Observatoire", "read_at": read_at})

    # +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(13):  # the row read, then again under the dossier's lock; the page again
        response = owner_client.post(url, {**INTERNSHIP, "organisation": "Autre", "read_at": read_at})

    assert response.status_code == 200
    assertContains(response, "This section was changed by yourself")
    assertContains(response, 'value="Autre"')
    assertContains(response, "<dd>Observatoire</dd>", html=True)
    assert Internship.objects.get(pk=row.pk).organisation == "Observatoire"


def test_a_row_deleted_in_another_tab_is_a_message_on_the_list_not_a_404(owner_client, candidate):
    row = InternshipFactory(candidate=candidate)
    edit_url = reverse("applications:internship_edit", args=[row.public_id])
    read_at = _posted(owner_client.get(edit_url))
    owner_client.post(reverse("applications:internship_delete", args=[row.public_id]), {"read_at": read_at})

    response = owner_client.post(edit_url, {**INTERNSHIP, "read_at": read_at}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("applications:internship_list")
    assertContains(response, "This line no longer exists: it was deleted meanwhile")
    assert not Internship.objects.filter(candidate=candidate).exists()  # not added again either


def test_deleting_a_row_changed_meanwhile_asks_again(owner_client, candidate):
    row = InternshipFactory(candidate=candidate, organisation="Labo")
    delete_url = reverse("applications:internship_delete", args=[row.public_id])
    read_at = owner_client.get(delete_url).context["read_at"]
    services.update_row(row=row, data={"organisation": "Observatoire"}, actor=candidate.user, read_at=None)

    response = owner_client.post(delete_url, {"read_at": read_at})

    assert response.status_code == 200
    assertContains(response, 'role="alert"')
    assertContains(response, "Observatoire")
    assert Internship.objects.filter(pk=row.pk).exists()
    assert owner_client.post(delete_url, {"read_at": response.context["read_at"]}).status_code == 302
    assert not Internship.objects.filter(pk=row.pk).exists()


def test_another_candidates_row_is_still_a_404(owner_client, other_candidate):
    row = InternshipFactory(candidate=other_candidate)

    response = owner_client.post(reverse("applications:internship_edit", args=[row.public_id]), INTERNSHIP)

    assert response.status_code == 404


# --- Candidate and staff, two clients -----------------------------------------------------------------------------


@pytest.fixture
def application(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    AddressFactory(candidate=application.candidate, city="PERPIGNAN", postal_code="66000")
    return application


def test_candidate_and_manager_at_once_the_candidate_is_told_who_changed_the_address(
    client, centre_manager, application
):
    candidate = application.candidate
    candidate_client = Client()
    candidate_client.language = "en"
    candidate_client.force_login(candidate.user)
    client.force_login(centre_manager)
    admin_url = reverse("admin:applications_candidate_change", args=[candidate.pk])
    candidate_read_at = _posted(candidate_client.get(reverse("applications:address")))
    staff_data = dossier_form_data(client.get(admin_url))
    staff_data["address-0-city"] = "CANET-EN-ROUSSILLON"
    assert client.post(admin_url, staff_data).status_code == 302

    response = candidate_client.post(
        reverse("applications:address"), {**ADDRESS, "city": "ELNE", "read_at": candidate_read_at}
    )

    name = centre_manager.get_full_name() or centre_manager.username
    assertContains(response, f"This section was changed by the admissions office ({name}) on")
    assertContains(response, "<dd>CANET-EN-ROUSSILLON</dd>", html=True)
    assert Address.objects.get(candidate=candidate).city == "CANET-EN-ROUSSILLON"


def test_candidate_and_manager_at_once_the_manager_is_told_and_saves_again(
    client, centre_manager, application, django_assert_num_queries
):
    candidate = application.candidate
    candidate_client = Client()
    candidate_client.language = "en"
    candidate_client.force_login(candidate.user)
    client.force_login(centre_manager)
    admin_url = reverse("admin:applications_candidate_change", args=[candidate.pk])
    staff_data = dossier_form_data(client.get(admin_url))
    read_at = _posted(candidate_client.get(reverse("applications:address")))
    candidate_client.post(reverse("applications:address"), {**ADDRESS, "city": "ELNE", "read_at": read_at})
    staff_data["address-0-city"] = "CANET-EN-ROUSSILLON"

    response = client.post(admin_url, staff_data)

    assert response.status_code == 200
    assertContains(response, 'role="alert"')
    assertContains(response, "This section was changed by the candidate on")
    assertContains(response, "<dd>ELNE</dd>", html=True)
    assert Address.objects.get(candidate=candidate).city == "ELNE"
    assert not application.events.exists()  # nothing recorded either
    again = dossier_form_data(response)
    assert again["address-0-city"] == "CANET-EN-ROUSSILLON"  # what the manager typed, kept
    assert client.post(admin_url, again).status_code == 302
    assert Address.objects.get(candidate=candidate).city == "CANET-EN-ROUSSILLON"


def test_an_untouched_staff_save_is_no_change_for_the_candidates_open_form(client, centre_manager, application):
    candidate = application.candidate
    client.force_login(centre_manager)
    admin_url = reverse("admin:applications_candidate_change", args=[candidate.pk])
    read_at = version_of(candidate)

    assert client.post(admin_url, dossier_form_data(client.get(admin_url))).status_code == 302

    assert version_of(Candidate.objects.get(pk=candidate.pk)) == read_at
    assertNotContains(client.get(admin_url), 'id="dossier-conflict"')


def test_two_tabs_on_the_bac_one_declares_no_bac_the_other_edits_it(owner_client, candidate):
    BaccalaureateFactory(candidate=candidate, year=2019)
    page = owner_client.get(reverse("applications:baccalaureate"))
    read_at = _posted(page)
    assert owner_client.post(reverse("applications:baccalaureate_none"), {"read_at": read_at}).status_code == 302

    response = owner_client.post(
        reverse("applications:baccalaureate"),
        {"mode": "edit", "series": "GEN", "year": "2018", "country": "FR", "department": "66", "read_at": read_at},
    )

    assertContains(response, "This section was changed by yourself")
    assert Baccalaureate.objects.get(candidate=candidate).has_bac is False  # the later choice stands


def test_declaring_no_bac_after_it_changed_in_another_tab_is_refused(owner_client, candidate):
    bac = BaccalaureateFactory(candidate=candidate, year=2019)
    read_at = version_of(bac)
    services.update_baccalaureate(candidate=candidate, data={"year": 2018}, actor=candidate.user, read_at=read_at)

    response = owner_client.post(reverse("applications:baccalaureate_none"), {"read_at": read_at}, follow=True)

    assertContains(response, "This section was changed by yourself")
    assert Baccalaureate.objects.get(candidate=candidate).year == 2018
