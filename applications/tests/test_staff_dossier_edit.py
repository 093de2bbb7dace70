"""Centre managers correct the dossier of their candidates (eCandidat SCOL_GESTION_CANDIDAT_CTR_CAND, "W" by default;
setting CENTRE_MANAGERS_EDIT_DOSSIERS): personal details, address, cursus… in the back office, never the account nor
what comes from the student records system; every change in the history of the candidate's applications."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from applications.enums import EventKind
from applications.models import Address, Internship
from applications.tests.factories import AddressFactory, BaccalaureateFactory
from applications.tests.factories_candidature import ApplicationFactory, make_application
from applications.tests.helpers import dossier_form_data
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def application(centre, commission, campaign):
    application = make_application(FormationFactory(centre=centre, commission=commission), campaign=campaign)
    AddressFactory(candidate=application.candidate, city="PERPIGNAN", postal_code="66000")
    return application


def _url(application):
    return reverse("admin:applications_candidate_change", args=[application.candidate.pk])


@pytest.mark.parametrize(
    ("persona", "status", "can_change"),
    [
        ("candidate", 302, None),
        ("centre_manager", 200, True),
        ("other_centre_manager", 404, None),
        ("commission_member", 200, False),
        ("read_only", 200, False),
        ("central_manager", 200, True),
    ],
    indirect=["persona"],
)
def test_who_may_correct_the_dossier(client, persona, status, can_change, application):
    client.force_login(persona)

    response = client.get(_url(application))

    assert response.status_code == status
    if can_change is not None:
        assert response.context["has_change_permission"] is can_change


def test_a_manager_corrects_the_address_and_the_history_says_who_and_what(
    client, centre_manager, application, django_capture_on_commit_callbacks
):
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data["address-0-city"] = "CANET-EN-ROUSSILLON"
    data["address-0-postal_code"] = "66140"

    response = client.post(_url(application), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert Address.objects.get(candidate=application.candidate).city == "CANET-EN-ROUSSILLON"
    event = application.events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF)
    assert event.actor == centre_manager
    assert event.comment == "Adresse : code postal : 66000 → 66140, commune : PERPIGNAN → CANET-EN-ROUSSILLON"


def test_a_manager_cannot_store_an_invisible_control_character_either(
    client, centre_manager, application, django_assert_num_queries
):
    """Regression (hostile-input audit, 2026-12-03): the dossier's page took what the candidate's forms refuse, a
    right-to-left override in a name, a vertical tab in a city; refused next to the field, nothing written."""
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data["birth_name"] = "DUPONT\u202eFDP.EXE"
    data["address-0-city"] = "CANET\x0bEN-ROUSSILLON"

    with django_assert_num_queries(26):  # refused: the page drawn again, nothing written
        response = client.post(_url(application), data)

    assert response.status_code == 200
    refusal = "This text contains an invisible character (a control or writing-direction character)"
    assert response.context["adminform"].form.errors["birth_name"][0].startswith(refusal)
    (address,) = [
        formset for formset in response.context["inline_admin_formsets"] if formset.formset.prefix == "address"
    ]
    assert address.formset.forms[0].errors["city"][0].startswith(refusal)
    assert Address.objects.get(candidate=application.candidate).city == "PERPIGNAN"
    assert not application.events.exists()


def test_a_manager_adds_an_internship(client, centre_manager, application):
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data.update(
        {
            "internships-TOTAL_FORMS": "1",
            "internships-0-year": "2024",
            "internships-0-duration": "3 mois",
            "internships-0-hours_per_week": "35",
            "internships-0-organisation": "Observatoire Océanologique",
            "internships-0-description": "Relevés",
        }
    )

    response = client.post(_url(application), data)

    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"]
    ]
    assert Internship.objects.filter(candidate=application.candidate).count() == 1
    assert "Stage : ajout (" in application.events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF).comment


def test_a_manager_chooses_the_specialities_by_name(client, centre_manager, application):
    BaccalaureateFactory(candidate=application.candidate, year=2023, speciality_1="OLD")  # a code no list has
    client.force_login(centre_manager)
    response = client.get(_url(application))
    html = response.content.decode()

    assert '<select name="baccalaureate-0-speciality_1"' in html
    assert '<option value="MATHS">Mathematics</option>' in html  # named, as on the candidate's form
    assert '<option value="OLD" selected>OLD</option>' in html  # what the dossier holds stays offered
    # The empty choice is worded as Django's other lists on the page, not "---------" (read as nine dashes).
    assert '<option value="">- Select an option -</option>' in html
    assert "---------" not in html
    data = dossier_form_data(response)
    data.update({"baccalaureate-0-speciality_1": "MATHS", "baccalaureate-0-speciality_2": "PC"})

    response = client.post(_url(application), data)

    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"]
    ]
    application.candidate.baccalaureate.refresh_from_db()
    assert (application.candidate.baccalaureate.speciality_1, application.candidate.baccalaureate.speciality_2) == (
        "MATHS",
        "PC",
    )


def test_the_account_and_the_sis_identity_stay_out_of_a_managers_reach(client, centre_manager, application):
    candidate = application.candidate
    candidate.sis_locked = True
    candidate.save(update_fields=["sis_locked"])
    client.force_login(centre_manager)
    response = client.get(_url(application))
    data = dossier_form_data(response)

    form_fields = response.context["adminform"].form.fields
    for locked in ("user", "birth_name", "sis_locked", "sis_student_number"):
        assert locked not in form_fields, locked
    data.update(mobile="+33612345678", birth_name="AUTRE", sis_student_number="99999999")
    data.pop("sis_locked", None)  # a forged "unticked" box: must not unlock the SIS fields

    assert client.post(_url(application), data).status_code == 302
    candidate.refresh_from_db()
    assert candidate.mobile == "+33612345678"
    assert candidate.birth_name != "AUTRE"
    assert candidate.sis_locked
    assert candidate.sis_student_number != "99999999"


def test_a_manager_cannot_unlock_a_dossier_that_is_not_locked_either(client, centre_manager, application):
    """Even on a dossier typed by the candidate, the SIS link (lock box, student number) is the central office's."""
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data.update(sis_locked="on", sis_student_number="12345678")

    assert client.post(_url(application), data).status_code == 302
    application.candidate.refresh_from_db()
    assert (application.candidate.sis_locked, application.candidate.sis_student_number) == (False, "")


@pytest.mark.parametrize("persona", ["commission_member", "read_only"], indirect=True)
def test_readers_cannot_post(client, persona, application):
    client.force_login(persona)
    data = dossier_form_data(client.get(_url(application)))
    data["address-0-city"] = "AILLEURS"

    assert client.post(_url(application), data).status_code == 403
    assert Address.objects.get(candidate=application.candidate).city == "PERPIGNAN"


def test_off_managers_only_read(client, settings, centre_manager, application):
    settings.CENTRE_MANAGERS_EDIT_DOSSIERS = False
    client.force_login(centre_manager)
    response = client.get(_url(application))
    data = dossier_form_data(response)
    data["address-0-city"] = "AILLEURS"

    assert response.context["has_change_permission"] is False
    assert client.post(_url(application), data).status_code == 403


@pytest.mark.parametrize("others", [0, 3])
def test_the_page_queries_do_not_grow_with_applications(
    client, centre_manager, application, campaign, others, django_assert_num_queries
):
    for _ in range(others):
        ApplicationFactory(
            candidate=application.candidate, formation=FormationFactory(centre=application.formation.centre)
        )
    client.force_login(centre_manager)
    client.get(_url(application))  # per-process memos (content types) warm, whatever ran before in this worker

    with django_assert_num_queries(18):  # 16, the list of the candidate's applications, the dossier's version read
        client.get(_url(application))


@pytest.mark.parametrize(
    ("persona", "queries"),
    # One query each for the list of the candidate's applications, and one for the version of the dossier read.
    [("centre_manager", 18), ("commission_member", 17), ("central_manager", 17)],
    indirect=["persona"],
)
def test_the_account_is_named_without_a_link_staff_cannot_open(
    client, persona, queries, application, django_assert_num_queries
):
    """Django linked the read-only account to the accounts' admin page, which refuses all but superusers (a 403; a
    404 for a commission member, who writes none of the setup)."""
    client.force_login(persona)
    client.get(_url(application))

    with django_assert_num_queries(queries):
        response = client.get(_url(application))

    account_page = reverse("admin:accounts_user_change", args=[application.candidate.user_id])
    assert client.get(account_page).status_code == (404 if persona.username == "membre" else 403)
    assert account_page not in response.content.decode()
    assert "user" not in response.context["adminform"].form.fields
    assert application.candidate.user.username in response.content.decode()


def test_a_superuser_still_opens_and_moves_the_account(client, superuser, application):
    client.force_login(superuser)

    response = client.get(_url(application))

    assert "user" in response.context["adminform"].form.fields
    account_page = reverse("admin:accounts_user_change", args=[application.candidate.user_id])
    assert account_page in response.content.decode()


class _InlineHeaders(HTMLParser):
    """The text of each header cell of the inline tables (``div.wrapper[role=region]``), one list per table."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[str]] = []
        self._in_thead = self._in_th = False

    def handle_starttag(self, tag, attrs):
        if tag == "thead":
            self._in_thead = True
            self.tables.append([])
        elif tag == "th" and self._in_thead:
            self._in_th = True
            self.tables[-1].append("")

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_thead = False
        elif tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._in_th:
            self.tables[-1][-1] += data.strip()


@pytest.mark.parametrize(
    ("persona", "queries", "deletes"),
    [("centre_manager", 18, True), ("commission_member", 17, False)],  # each: the dossier's version read
    indirect=["persona"],
)
def test_no_inline_column_header_is_empty(client, persona, queries, deletes, application, django_assert_num_queries):
    """Django's tabular inline heads the column of each row's name, and the deletion column of a reader, with an
    empty <th> (RGAA 5.6; axe-core empty-table-header): the first is named for screen readers, the second is no
    header when nothing may be deleted."""
    client.force_login(persona)
    client.get(_url(application))

    with django_assert_num_queries(queries):
        response = client.get(_url(application))

    parser = _InlineHeaders()
    parser.feed(response.content.decode())
    assert parser.tables
    for headers in parser.tables:
        assert all(headers), headers
    by_name = {headers[0]: headers for headers in parser.tables}
    assert by_name["Internal cursus"][-1] == "Grade / scale"  # read-only rows: no deletion column header
    assert (by_name["External cursus"][-1] == "Delete?") is deletes


def test_the_inputs_of_a_tabular_inline_row_are_named(client, centre_manager, application, django_assert_num_queries):
    """A dossier's stages, cursus and experiences are tables whose inputs had no label (axe-core "label" and
    "select-name", RGAA 11.1): each is now named by its column and its row, as the editable lists' inputs; the new row
    Django's "Ajouter" copies, by its column."""
    Internship.objects.create(
        candidate=application.candidate, year=2024, duration="3 mois", organisation="Observatoire Océanologique"
    )
    client.force_login(centre_manager)
    client.get(_url(application))

    with django_assert_num_queries(18):  # with the applications list and the version read; as without the internship
        page = client.get(_url(application), language="fr").content.decode()

    assert 'aria-label="Employeur/organisme — 2024 Observatoire Océanologique"' in page
    assert re.search(r'<input [^>]*name="internships-0-year" [^>]*aria-label="Année — 2024 Observatoire', page)
    assert re.search(r'<input [^>]*name="internships-__prefix__-duration" [^>]*aria-label="Durée"', page)
    assert re.search(r'<input [^>]*name="internships-0-DELETE" aria-label="Supprimer — 2024 Observatoire', page)


def test_a_row_deleted_by_someone_else_meanwhile_is_named_so(
    client, centre_manager, application, back_office_in_french, django_assert_num_queries
):
    internship = Internship.objects.create(
        candidate=application.candidate, year=2024, duration="3 mois", organisation="Observatoire"
    )
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data["internships-0-organisation"] = "Observatoire Océanologique"
    internship.delete()  # another manager, or the candidate, in another tab
    # The dossier changed meanwhile: the first save says so; saving again, the deleted row is still in the form.
    assert "dossier-conflict" in client.post(_url(application), data).content.decode()
    data["read_at"] = dossier_form_data(client.get(_url(application)))["read_at"]

    with django_assert_num_queries(27):  # the page again, with the message: nothing written
        response = client.post(_url(application), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Cette ligne a été supprimée par quelqu&#x27;un d&#x27;autre après l&#x27;ouverture de la page" in page
    assert "Sélectionnez un choix valide" not in page


def test_the_version_read_is_a_hidden_input_without_a_label(client, centre_manager, application):
    client.force_login(centre_manager)

    html = client.get(_url(application)).content.decode()

    assert len(re.findall(r'<input type="hidden" name="read_at" value="[^"]+"', html)) == 1
    assert 'for="id_read_at"' not in html  # a label pointing at a hidden input is invalid HTML
    assert "Read at" not in html


def test_the_history_names_a_changed_choice_by_its_label_not_its_code(
    client, centre_manager, application, django_capture_on_commit_callbacks
):
    """The staff's changes are written as the candidate's are (``change_in_words``): « Mathématiques », not
    « MATHS », for a commission member reading the history."""
    BaccalaureateFactory(candidate=application.candidate, year=2023, speciality_1="PC", country="FR")
    client.force_login(centre_manager)
    data = dossier_form_data(client.get(_url(application)))
    data.update({"baccalaureate-0-speciality_1": "MATHS"})

    response = client.post(_url(application), data)

    assert response.status_code == 302
    comment = application.events.get(kind=EventKind.DOSSIER_CHANGED_BY_STAFF).comment
    assert comment == "Baccalauréat : spécialité terminale 1 : Physique-chimie → Mathématiques", comment
