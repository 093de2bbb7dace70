import datetime
import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from applications import permissions
from applications.models import Address, Baccalaureate, Candidate, ExternalCursus, Internship, WorkExperience
from applications.tests.factories import (
    AddressFactory,
    BaccalaureateFactory,
    ExternalCursusFactory,
    InternalCursusFactory,
    InternshipFactory,
    WorkExperienceFactory,
)
from applications.tests.helpers import personal_details_form

pytestmark = pytest.mark.django_db

# The INE is required of a French national (INE_REQUIRED_FOR_FRENCH).
PERSONAL = personal_details_form(birth_name=" dupont  martin ")
ADDRESS = {"line1": "1 rue du Test", "postal_code": "66000", "city": "PERPIGNAN", "country": "FR"}
BAC = {"mode": "add", "series": "GEN", "year": "2020", "country": "FR", "department": "66"}

PAGES = [
    "applications:personal_details",
    "applications:address",
    "applications:baccalaureate",
    "applications:internal_cursus",
    "applications:external_cursus_list",
    "applications:internship_list",
    "applications:work_experience_list",
    "applications:external_cursus_add",
    "applications:internship_add",
    "applications:work_experience_add",
    "applications:my_data",
    "applications:my_data_download",
    # Actions of the pages above (a page of their own, then a POST): outsiders are refused as on the pages.
    "applications:certify_identity",
    "applications:baccalaureate_none",
]


def complete_dossier(candidate):
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate)


# --- Personas ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client, db, name):
    url = reverse(name)

    response = client.get(url)

    assertRedirects(response, f"{reverse('account_login')}?next={url}", fetch_redirect_response=False)


@pytest.mark.parametrize("name", PAGES)
def test_staff_gets_404(client, django_user_model, name):
    staff = django_user_model.objects.create_user(username="staff", email="s@univ.example", is_staff=True)
    client.force_login(staff)

    assert client.get(reverse(name)).status_code == 404


@pytest.mark.parametrize(
    ("name", "queries"),
    [
        ("applications:personal_details", 6),
        ("applications:address", 5),
        ("applications:baccalaureate", 5),
        ("applications:internal_cursus", 6),
        ("applications:external_cursus_list", 6),
        ("applications:internship_list", 6),
        ("applications:work_experience_list", 6),
        # + the list of diplomas of other cursus (once per process), the version of the list of cursus
        ("applications:external_cursus_add", 7),
        ("applications:my_data", 4),
        # + the former e-mail addresses, the addresses other accounts hold, the files without a piece, the ENT accounts
        ("applications:my_data_download", 17),
    ],
)
def test_owner_sees_page_with_exact_queries(owner_client, candidate, django_assert_num_queries, name, queries):
    complete_dossier(candidate)

    with django_assert_num_queries(queries):
        response = owner_client.get(reverse(name))

    assert response.status_code == 200


@pytest.mark.parametrize("factory", [ExternalCursusFactory, InternshipFactory, WorkExperienceFactory])
@pytest.mark.parametrize("action", ["edit", "delete"])
def test_other_candidate_gets_404_on_rows(client, candidate, other_candidate, factory, action):
    row = factory(candidate=candidate)
    prefix = {ExternalCursus: "external_cursus", Internship: "internship", WorkExperience: "work_experience"}[
        factory._meta.model
    ]
    client.force_login(other_candidate.user)
    url = reverse(f"applications:{prefix}_{action}", kwargs={"public_id": row.public_id})

    assert client.get(url).status_code == 404
    assert client.post(url, {"year": "2020"}).status_code == 404
    assert factory._meta.model.objects.filter(pk=row.pk).exists()


def test_other_candidate_does_not_see_rows_in_lists(client, candidate, other_candidate):
    InternshipFactory(candidate=candidate, organisation="Secret Corp")
    client.force_login(other_candidate.user)

    response = client.get(reverse("applications:internship_list"))

    assertNotContains(response, "Secret Corp")


def test_candidate_menu_lists_the_dossier_pages(owner_client):
    response = owner_client.get(reverse("applications:address"))

    html = render_to_string("includes/candidate_nav.html", {"user": response.wsgi_request.user}, response.wsgi_request)

    for label in ["Personal details", "Address", "Baccalaureate", "Internal cursus", "External cursus"]:
        assert label in html
    assert "Internships" in html
    assert "Work experience" in html


def test_candidate_menu_is_empty_for_anonymous(rf):
    request = rf.get("/")
    request.user = AnonymousUser()

    assert render_to_string("includes/candidate_nav.html", {"user": request.user}, request).strip() == ""


# --- Step-by-step first completion -------------------------------------------------------------------------------


def test_first_completion_goes_step_by_step(client, candidate_user):
    client.force_login(candidate_user)

    response = client.get(reverse("applications:personal_details"))
    assertContains(response, "Step 1 of 3")
    assertContains(response, "Follow the steps to enter your information")

    response = client.post(reverse("applications:personal_details"), PERSONAL)
    assertRedirects(response, reverse("applications:address"))
    candidate = Candidate.objects.get(user=candidate_user)
    assert candidate.birth_name == "DUPONT MARTIN"
    assert candidate.phone == "+33468000000"
    # Shown again as typed, not as stored (+33468000000).
    assertContains(client.get(reverse("applications:personal_details")), 'value="04 68 00 00 00"')
    assertContains(client.get(reverse("applications:address")), "Step 2 of 3")

    response = client.post(reverse("applications:address"), ADDRESS)
    assertRedirects(response, reverse("applications:baccalaureate"))
    assertContains(client.get(reverse("applications:baccalaureate")), "Step 3 of 3")

    response = client.post(reverse("applications:baccalaureate"), BAC)
    assertRedirects(response, reverse("applications:baccalaureate"))
    response = client.get(reverse("applications:baccalaureate"))
    assertNotContains(response, "Step 3 of 3")
    assertContains(response, "You can come back at any time")


def test_address_before_personal_details_sends_to_step_one(client, candidate_user):
    client.force_login(candidate_user)

    response = client.get(reverse("applications:address"))

    assertRedirects(response, reverse("applications:personal_details"))


def test_saving_an_earlier_step_goes_to_the_missing_one(owner_client, candidate):
    response = owner_client.post(reverse("applications:personal_details"), PERSONAL)

    assertRedirects(response, reverse("applications:address"))


def test_saving_a_complete_dossier_stays_on_the_page(owner_client, candidate):
    complete_dossier(candidate)

    response = owner_client.post(reverse("applications:address"), {**ADDRESS, "line1": "2 rue Neuve"})

    assertRedirects(response, reverse("applications:address"))
    assert Address.objects.get(candidate=candidate).line1 == "2 rue Neuve"


def test_required_fields_are_marked(owner_client):
    response = owner_client.get(reverse("applications:personal_details"))

    assertContains(response, 'Fields preceded by "*" are required.')
    assertContains(response, "* Birth name")


# --- Validation messages ----------------------------------------------------------------------------------------


def _post_personal(client, **changes):
    return client.post(reverse("applications:personal_details"), {**PERSONAL, **changes})


def test_the_lists_empty_choice_is_worded_not_dashed(owner_client, django_assert_num_queries):
    # "---------" is read aloud as nine dashes; the dossier's lists say what to do, as Django's model fields do.
    with django_assert_num_queries(6):
        response = owner_client.get(reverse("applications:personal_details"), language="fr")

    # The title's (a model field's, worded by Django) and the two countries'.
    assertContains(response, '<option value="">- Choisir une option -</option>', count=3, html=True)
    assertNotContains(response, "---------")
    with django_assert_num_queries(7):  # + the version of the list of cursus (its add form's ``read_at``)
        response = owner_client.get(reverse("applications:external_cursus_add"), language="fr")

    assertNotContains(response, "---------")


def test_bad_ine_format_is_refused_at_the_field(owner_client):
    response = _post_personal(owner_client, ine="ABC")

    assert response.status_code == 200
    assertContains(response, "The INE and its key must be 11 characters, without spaces.")
    assertContains(response, 'aria-invalid="true"')
    assertContains(response, 'id="id_ine_error"')
    assertContains(response, 'aria-describedby="id_ine_helptext id_ine_error"')


def test_bad_ine_key_is_refused(owner_client):
    response = _post_personal(owner_client, ine="1234567890A")

    assertContains(response, "The INE key is wrong: check the last character.")


def test_unknown_ine_format_is_refused(owner_client):
    response = _post_personal(owner_client, ine="ABCDEFGHIJK")

    assertContains(response, "This is not a valid INE.")


def test_valid_ine_is_saved(owner_client, candidate):
    _post_personal(owner_client, ine="1234567890v")

    candidate.refresh_from_db()
    assert candidate.ine == "1234567890V"


def test_duplicate_ine_is_refused(owner_client, other_candidate):
    other_candidate.ine = "1234567890V"
    other_candidate.save()

    response = _post_personal(owner_client, ine="1234567890V")

    assertContains(response, "This INE has already been given to a candidate.")


def test_a_french_national_gives_the_ine(owner_client, candidate, settings):
    response = _post_personal(owner_client, ine="")

    assert response.status_code == 200
    [error] = response.context["form"].errors["ine"]
    assert error.startswith("The INE is required for candidates of French nationality: it is on your baccalaureate")
    settings.INE_REQUIRED_FOR_FRENCH = False
    assert _post_personal(owner_client, ine="").status_code == 302
    candidate.refresh_from_db()
    assert candidate.ine == ""


def test_the_form_says_before_submitting_that_a_french_national_gives_the_ine(
    owner_client, candidate, settings, django_assert_num_queries
):
    with django_assert_num_queries(6):
        response = owner_client.get(reverse("applications:personal_details"), language="fr")

    assertContains(response, "Obligatoire pour les candidats de nationalité française")
    settings.INE_REQUIRED_FOR_FRENCH = False
    response = owner_client.get(reverse("applications:personal_details"), language="fr")
    assertNotContains(response, "Obligatoire pour les candidats de nationalité française")
    assertContains(response, "11 caractères sans espace")


def test_a_foreign_national_may_have_no_ine(owner_client, candidate):
    assert _post_personal(owner_client, ine="", nationality="ES").status_code == 302
    candidate.refresh_from_db()
    assert (candidate.nationality, candidate.ine) == ("ES", "")


def test_bad_phone_is_refused(owner_client):
    response = _post_personal(owner_client, phone="12")

    assertContains(response, "Enter a valid phone number (international numbers start with +).")


def test_birth_date_in_the_future_is_refused(owner_client):
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)  # noqa: DTZ011 a date far enough in any zone

    response = _post_personal(owner_client, birth_date=tomorrow.isoformat())

    assertContains(response, "The date of birth must be in the past.")


def test_birth_in_france_needs_a_department(owner_client):
    response = _post_personal(owner_client, birth_department="")

    assertContains(response, "Give the department of birth for a birth in France.")


@pytest.mark.parametrize(("typed", "stored"), [("2a", "2A"), ("066", "66"), ("02b", "2B")])
def test_department_of_birth_is_taken_as_candidates_type_it(
    owner_client, candidate, django_assert_num_queries, typed, stored
):
    # Corsica in lower case, or the three-character form of many French forms: not a reason to refuse the page. (The
    # INE typed is looked up in the SIS in a savepoint of its own: 2 of the queries.)
    with django_assert_num_queries(17):
        response = _post_personal(owner_client, birth_department=typed)

    assert response.status_code == 302
    candidate.refresh_from_db()
    assert candidate.birth_department == stored


def test_a_department_of_birth_that_is_no_department_is_still_refused(owner_client, django_assert_num_queries):
    with django_assert_num_queries(7):
        response = _post_personal(owner_client, birth_department="099")

    assertContains(response, "Enter a French department number, e.g. 66, 2A or 974.")


INVISIBLE = "Ce texte contient un caractère invisible"  # (de contrôle ou de sens d'écriture) : retirez-le…


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("birth_name", "DUPONT\u202eFDP.EXE"),  # reads "DUPONTEXE.PDF" on the staff's pages
        ("first_name", "Jean\r\nBcc: x"),  # a line break no one-line input sends
        ("birth_city", "Perpi\x0bgnan"),  # a vertical tab: stored, it broke every XLSX export holding it
    ],
)
def test_an_invisible_control_character_is_refused_next_to_its_field(
    owner_client, candidate, django_assert_num_queries, field, value
):
    """Regression (hostile-input audit, 2026-12-03): the dossier's forms refused NUL only; the other control
    characters and the direction overrides were stored as typed."""
    before = Candidate.objects.values().get(pk=candidate.pk)

    with django_assert_num_queries(7):  # as any refused save of this page: nothing written
        response = owner_client.post(
            reverse("applications:personal_details"), {**PERSONAL, field: value}, language="fr"
        )

    assert response.status_code == 200
    assert response.context["form"].errors[field][0].startswith(INVISIBLE)
    assertContains(response, f'id="id_{field}_error"')
    assert Candidate.objects.values().get(pk=candidate.pk) == before


def test_the_joiners_and_marks_of_persian_and_arabic_names_are_kept(owner_client, candidate):
    """Only controls and direction overrides/isolates are refused: the zero-width non-joiner a Persian name needs
    (« مهرناز » typed with U+200C) and the right-to-left mark some keyboards add stay as typed."""
    name = "\u0645\u0647\u0631\u200c\u0646\u0627\u0632\u200f"

    response = owner_client.post(reverse("applications:personal_details"), {**PERSONAL, "first_name": name})

    assert response.status_code == 302
    assert Candidate.objects.get(pk=candidate.pk).first_name == name


def test_a_textarea_keeps_its_line_ends_but_refuses_other_controls(owner_client, candidate):
    complete_dossier(candidate)
    row = {"year": "2021", "duration": "1 an", "title": "Serveur", "organisation": "Café"}
    url = reverse("applications:work_experience_add")

    refused = owner_client.post(url, {**row, "description": "Service\x1b[2J en salle"}, language="fr")
    kept = owner_client.post(url, {**row, "description": "Service en salle\r\nPlonge\tcaisse"})

    assert refused.status_code == 200
    assertContains(refused, INVISIBLE)
    assertContains(refused, 'id="id_description_error"')
    assert kept.status_code == 302
    # The line end kept, as one character (AnswerField): what the textarea's maxlength counted.
    assert WorkExperience.objects.get(candidate=candidate).description == "Service en salle\nPlonge\tcaisse"


def test_a_name_longer_than_the_student_records_allow_says_what_to_do(owner_client, django_assert_num_queries):
    # Signup takes longer names than the dossier (Apogée's 30 and 20 characters): the page says what to do.
    with django_assert_num_queries(7):
        response = owner_client.post(
            reverse("applications:personal_details"),
            {**PERSONAL, "birth_name": "de La Tour d'Auvergne-Lauraguais", "first_name": "Marie-Bénédicte-Françoise"},
            language="fr",
        )

    assertContains(response, "30 caractères au plus, la limite du logiciel de scolarité : écrivez votre nom comme")
    assertContains(response, "20 caractères au plus, la limite du logiciel de scolarité : indiquez ici votre premier")


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("birth_name", "Straß" * 6),  # 30 characters typed, 36 stored: "ß" upper-cased is "SS"
        ("usual_name", "Gra\ufb00in" * 5),  # 30 typed, 35 stored: the ligature "ﬀ" is "FF"
    ],
)
def test_a_name_that_grows_when_upper_cased_is_refused_beside_it(owner_client, candidate, field, typed):
    """Regression (s44): the form counted a name's 30 characters as typed and the service stored it upper-cased,
    longer than its column: PostgreSQL refused the save (DataError, a 500 on « Informations perso. »)."""
    before = Candidate.objects.values().get(pk=candidate.pk)

    response = _post_personal(owner_client, **{field: typed})

    assert response.status_code == 200
    [error] = response.context["form"].errors[field]
    assert error.startswith("At most 30 characters, the limit of the student records system: write your name")
    assertContains(response, f'id="id_{field}_error"')
    assertContains(response, f'value="{typed}"')  # the name as typed, to shorten
    assert Candidate.objects.values().get(pk=candidate.pk) == before


def test_born_abroad_drops_the_department_of_birth(owner_client, candidate):
    """Regression (s44): a département chosen for a birth in France stayed with a birth in Spain (exports, OPI)."""
    assert candidate.birth_department == "66"

    response = _post_personal(owner_client, birth_country="ES", birth_department="66", birth_city="Madrid")

    assert response.status_code == 302
    candidate.refresh_from_db()
    assert (candidate.birth_country, candidate.birth_department) == ("ES", "")


def test_civility_is_labelled_civility_not_title(owner_client):
    """Regression (s44): the field shared the msgid "title" with a formation's title, so the French page read
    « Titre » where the guide says « Civilité »."""
    english = owner_client.get(reverse("applications:personal_details"))
    french = owner_client.get(reverse("applications:personal_details"), language="fr")

    assertContains(english, '<label for="id_civility">* Civility:</label>', html=True)
    [french_label] = re.findall(r'<label for="id_civility">([^<]*)</label>', french.content.decode())
    assert "Civilité" in french_label
    assert "Titre" not in french_label


def test_french_address_needs_a_postal_code(owner_client):
    response = owner_client.post(reverse("applications:address"), {**ADDRESS, "postal_code": "ABC"})

    assertContains(response, "A French postal code has 5 digits.")


def test_a_french_postal_code_typed_with_a_space_is_taken(owner_client, candidate, django_assert_num_queries):
    # 12: the dossier locked, its address read under the lock and written (no update_or_create savepoints).
    # +1: transmitted applications read after the dossier lock.
    with django_assert_num_queries(12):
        response = owner_client.post(reverse("applications:address"), {**ADDRESS, "postal_code": "66 000"})

    assert response.status_code == 302
    assert Address.objects.get(candidate=candidate).postal_code == "66000"


def test_foreign_address_needs_a_city(owner_client):
    response = owner_client.post(reverse("applications:address"), {"line1": "Calle Mayor 1", "country": "ES"})

    assertContains(response, "Give the city.")


def test_an_address_moved_abroad_drops_the_french_postal_code_city_and_cedex(owner_client, candidate):
    """Regression (s44): the French fields stayed with an address in Spain: the review page read
    "66000 PERPIGNANMadrid" and the OPI file sent 66000 for Madrid."""
    AddressFactory(candidate=candidate, cedex="CEDEX 9")

    response = owner_client.post(
        reverse("applications:address"), {**ADDRESS, "cedex": "CEDEX 9", "foreign_city": "Madrid", "country": "ES"}
    )

    assert response.status_code == 302
    address = Address.objects.get(candidate=candidate)
    assert (address.country, address.postal_code, address.city, address.cedex, address.foreign_city) == (
        "ES",
        "",
        "",
        "",
        "Madrid",
    )


def test_an_address_back_in_france_drops_the_city_abroad(owner_client, candidate):
    AddressFactory(candidate=candidate, postal_code="", city="", foreign_city="Madrid", country="ES")

    response = owner_client.post(reverse("applications:address"), {**ADDRESS, "foreign_city": "Madrid"})

    assert response.status_code == 302
    address = Address.objects.get(candidate=candidate)
    assert (address.country, address.postal_code, address.city, address.foreign_city) == (
        "FR",
        "66000",
        "PERPIGNAN",
        "",
    )


def test_second_baccalaureate_is_refused(owner_client, candidate):
    BaccalaureateFactory(candidate=candidate, year=2019)

    response = owner_client.post(reverse("applications:baccalaureate"), BAC)

    assertContains(response, "You can only enter one baccalaureate (or equivalent).")
    assert Baccalaureate.objects.get(candidate=candidate).year == 2019


def test_baccalaureate_can_be_edited(owner_client, candidate):
    BaccalaureateFactory(candidate=candidate, year=2019)

    owner_client.post(reverse("applications:baccalaureate"), {**BAC, "mode": "edit", "year": "2018"})

    assert Baccalaureate.objects.get(candidate=candidate).year == 2018


def test_a_baccalaureate_from_the_sis_is_not_presented_as_something_to_change(
    owner_client, candidate, django_assert_num_queries
):
    """An ENT student's bac comes from the student records system and is read-only: the page says so, and no longer
    also says "come back at any time to change it" nor "you can only enter one baccalaureate"."""
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate, series="S", year=2019, sis_locked=True)

    with django_assert_num_queries(5):
        response = owner_client.get(reverse("applications:baccalaureate"))

    assertContains(response, "comes from the university's student records system and cannot be changed")
    # In English, the French word is marked as such for a screen reader (RGAA 8.7); the French page needs no mark.
    assertContains(response, 'contact your student office (<span lang="fr">scolarité</span>).')
    french = owner_client.get(reverse("applications:baccalaureate"), language="fr")
    assertContains(french, "si vous constatez des erreurs, contactez votre scolarité.</p>")
    assertNotContains(response, "You can come back at any time to change")
    assertNotContains(response, "You can only enter one baccalaureate")


def test_a_baccalaureate_typed_by_the_candidate_can_be_come_back_to(owner_client, candidate):
    AddressFactory(candidate=candidate)
    BaccalaureateFactory(candidate=candidate, series="S", year=2019)

    response = owner_client.get(reverse("applications:baccalaureate"))

    assertContains(response, "You can come back at any time to change or complete the information you entered.")
    assertContains(response, "You can only enter one baccalaureate (or equivalent).")
    assertNotContains(response, "student records system")


def test_no_baccalaureate_then_baccalaureate(owner_client, candidate):
    owner_client.post(reverse("applications:baccalaureate_none"))
    assert Baccalaureate.objects.get(candidate=candidate).has_bac is False
    assertContains(owner_client.get(reverse("applications:baccalaureate")), "I have the baccalaureate or an")

    owner_client.post(reverse("applications:baccalaureate"), BAC)

    bac = Baccalaureate.objects.get(candidate=candidate)
    assert bac.has_bac is True
    assert bac.series == "GEN"


def test_baccalaureate_department_is_taken_as_candidates_type_it(owner_client, candidate, django_assert_num_queries):
    with django_assert_num_queries(15):  # +1: transmitted applications read after the dossier lock
        response = owner_client.post(reverse("applications:baccalaureate"), {**BAC, "department": "2b"})

    assert response.status_code == 302
    assert Baccalaureate.objects.get(candidate=candidate).department == "2B"


def test_baccalaureate_year_in_the_future_is_refused(owner_client):
    response = owner_client.post(reverse("applications:baccalaureate"), {**BAC, "year": "2999"})

    assert response.status_code == 200
    assertContains(response, 'aria-invalid="true"')


# --- Rows ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 10])
def test_internship_list_query_count_does_not_grow(owner_client, candidate, django_assert_num_queries, rows):
    InternshipFactory.create_batch(rows, candidate=candidate)

    with django_assert_num_queries(6):
        response = owner_client.get(reverse("applications:internship_list"))

    assert len(response.context["rows"]) == rows


def test_add_edit_delete_a_work_experience(owner_client, candidate):
    response = owner_client.post(
        reverse("applications:work_experience_add"),
        {"year": "2021", "duration": "1 an", "title": "Serveur", "organisation": "Café", "description": ""},
    )
    assertRedirects(response, reverse("applications:work_experience_list"))
    row = WorkExperience.objects.get(candidate=candidate)

    url = reverse("applications:work_experience_edit", kwargs={"public_id": row.public_id})
    owner_client.post(url, {"year": "2021", "duration": "2 ans", "title": "Serveur", "organisation": "Café"})
    row.refresh_from_db()
    assert row.duration == "2 ans"

    delete_url = reverse("applications:work_experience_delete", kwargs={"public_id": row.public_id})
    assertContains(owner_client.get(delete_url), "Do you really want to delete")
    assert WorkExperience.objects.filter(pk=row.pk).exists()
    assertRedirects(owner_client.post(delete_url), reverse("applications:work_experience_list"))
    assert not WorkExperience.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(
    ("url_name", "row", "model"),
    [
        ("applications:internship_add", {"year": "2021", "duration": "2 mois", "organisation": "Mairie"}, Internship),
        (
            "applications:work_experience_add",
            {"year": "2021", "duration": "1 an", "title": "Serveur", "organisation": "Café"},
            WorkExperience,
        ),
    ],
)
def test_a_description_as_long_as_the_textarea_allows_is_taken(owner_client, candidate, url_name, row, model):
    """Regression (s44): the textarea's maxlength (2000) counts a line end as one character, the browser sends it as
    CR LF (two): a description of 2,000 characters on 20 lines was refused as 2,018."""
    typed = ("x" * 99 + "\r\n") * 20

    response = owner_client.post(reverse(url_name), {**row, "description": typed})

    assert response.status_code == 302
    assert model.objects.get(candidate=candidate).description == ("x" * 99 + "\n") * 19 + "x" * 99


def test_external_cursus_needs_obtained(owner_client):
    response = owner_client.post(
        reverse("applications:external_cursus_add"),
        {"year": "2021", "label": "BTS", "country": "FR", "school": "Lycée"},
    )

    assert response.status_code == 200
    assertContains(response, 'id="id_obtained_error"')


def test_rows_need_personal_details_first(client, candidate_user):
    client.force_login(candidate_user)

    response = client.get(reverse("applications:internship_add"), follow=True)

    assertRedirects(response, reverse("applications:personal_details"))
    # Said once, by the stepper (the page repeated it in a message above it).
    assertContains(response, "Follow the steps to enter your information", count=1)


# --- Lock after an application -----------------------------------------------------------------------------------


def test_personal_details_lock_once_the_candidate_has_an_application(owner_client, candidate, monkeypatch):
    monkeypatch.setattr(permissions, "candidate_has_applications", lambda candidate: True)

    response = owner_client.get(reverse("applications:personal_details"))
    assertContains(response, "You have an application")
    assertContains(response, 'name="birth_name"')
    assert response.context["form"].fields["birth_name"].disabled

    owner_client.post(
        reverse("applications:personal_details"),
        {**PERSONAL, "birth_name": "CHANGED", "phone": "+33611223344"},
    )
    candidate.refresh_from_db()
    assert candidate.birth_name == "DUPONT"
    assert candidate.phone == "+33611223344"


def test_internal_cursus_is_listed_read_only(owner_client, candidate):
    InternalCursusFactory(candidate=candidate, label="Licence 1 Droit")

    response = owner_client.get(reverse("applications:internal_cursus"))

    assertContains(response, "Licence 1 Droit")
    assertContains(response, "if you find errors, contact your student office")


# --- Where a login lands ("Mon espace") -------------------------------------------------------------------------


def test_start_sends_a_new_candidate_to_the_first_step(client, candidate_user):
    client.force_login(candidate_user)

    response = client.get(reverse("applications:start"))

    assertRedirects(response, reverse("applications:personal_details"), fetch_redirect_response=False)


def test_start_sends_a_candidate_to_the_next_missing_step(owner_client, candidate, django_assert_num_queries):
    with django_assert_num_queries(5):
        response = owner_client.get(reverse("applications:start"))
    assertRedirects(response, reverse("applications:address"), fetch_redirect_response=False)

    AddressFactory(candidate=candidate)
    assertRedirects(
        owner_client.get(reverse("applications:start")),
        reverse("applications:baccalaureate"),
        fetch_redirect_response=False,
    )


def test_start_sends_a_complete_dossier_to_the_applications(owner_client, candidate):
    complete_dossier(candidate)

    response = owner_client.get(reverse("applications:start"))

    assertRedirects(response, reverse("applications:application_list"), fetch_redirect_response=False)


def test_start_sends_anonymous_visitors_to_login(client, db):
    url = reverse("applications:start")

    assertRedirects(client.get(url), f"{reverse('account_login')}?next={url}", fetch_redirect_response=False)


def test_start_sends_staff_to_the_back_office(client, django_user_model):
    staff = django_user_model.objects.create_user(username="staff", email="s@univ.example", is_staff=True)
    client.force_login(staff)

    assertRedirects(client.get(reverse("applications:start")), reverse("admin:index"), fetch_redirect_response=False)


def test_login_lands_on_start(client, candidate):
    candidate.user.set_password("un-mot-de-passe-solide")
    candidate.user.save()  # its e-mail address is validated (CandidateUserFactory)

    response = client.post(
        reverse("account_login"), {"login": candidate.user.username, "password": "un-mot-de-passe-solide"}
    )

    assertRedirects(response, reverse("applications:start"), fetch_redirect_response=False)
