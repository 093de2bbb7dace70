"""Issue 12: the export with chosen columns (saved per user), XLSX and streamed CSV, constant queries per chunk;
the statistics page in XLSX."""

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pytest_django.asserts import assertContains

from applications import export_columns
from applications.enums import DossierStatus
from applications.forms_tab import form_rows
from applications.models import ApplicationNote, ApplicationTag, ExportColumns, ExternalCursus, FormAnswer, Opi, Tag
from applications.services import staff
from applications.tests.factories import AddressFactory, BaccalaureateFactory
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import EXPORT_COLUMNS_URL, csv_rows, post_export
from offers.enums import Avis
from offers.models import ComplementaryForm, RefusalReason
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db
URL = EXPORT_COLUMNS_URL


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def rich(formation, campaign, centre_manager):
    """One application with every kind of data the export reads."""
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    candidate = application.candidate
    candidate.birth_name = '=HYPERLINK("http://evil")'
    candidate.save()
    ExternalCursus.objects.create(
        candidate=candidate, year=2024, label="Licence Informatique", obtained="O", country="FR", school="UPVD"
    )
    decision = staff.record_decision(
        application,
        decision_type=decision_type(Avis.UNFAVOURABLE),
        actor=centre_manager,
        refusal_reason=RefusalReason.objects.create(code="CAP", label="Capacité atteinte"),
    )
    staff.validate_decision(decision, actor=centre_manager)
    ApplicationNote.objects.create(application=application, author=centre_manager, text="Bon dossier")
    ApplicationTag.objects.create(
        application=application, tag=Tag.objects.create(label="Prioritaire"), added_by=centre_manager
    )
    form = ComplementaryForm.objects.create(
        code="MOTIV", survey_id=1, label="Motivation", candidate_label="Motivation", url="https://x"
    )
    formation.forms.add(form)
    FormAnswer.objects.create(form=form, candidate=candidate, answers={"Pourquoi ?": "Passion"})
    return application


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("centre_manager", 200),
        ("other_centre_manager", 200),
        ("commission_member", 200),
        ("central_manager", 200),
        ("read_only_staff", 200),
        ("candidate", 302),
    ],
)
def test_persona_matrix(client, persona, expected, request):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    assert client.get(reverse(URL)).status_code == expected


def test_anonymous_goes_to_login(client):
    response = client.get(reverse(URL))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_chooser_page_queries(client, centre_manager, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(8):
        response = client.get(reverse(URL), language="fr")

    assertContains(response, "Dernier diplôme")
    assertContains(response, "Réponses aux formulaires complémentaires")


def test_csv_with_every_column(client, settings, centre_manager, rich):
    settings.EXPORT_NOTES = True  # the internal notes are offered (off by default: test_bulk_fixes_dec6.py)
    client.force_login(centre_manager)

    response = post_export(client, list(export_columns.COLUMNS))

    assert response.streaming
    header, row = csv_rows(response)
    values = dict(zip(header, row, strict=True))
    assert len(header) == len(export_columns.available_columns())  # the régime and fees: test_regime_fees.py
    assert values["Birth name"].startswith("'=HYPERLINK")  # a formula made inert
    assert values["Last diploma"] == "Licence Informatique"
    assert values["Decision"] == "Unfavourable"
    assert values["Reason of the decision"] == "Capacité atteinte"
    assert values["Tags"] == "Prioritaire"
    assert "Bon dossier" in values["Internal notes"]
    assert values["Complementary-form answers"] == "Motivation / Pourquoi ? : Passion"


def test_split_address_preselection_who_decided_and_the_opi(
    client, centre_manager, central_manager, formation, campaign
):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    AddressFactory(
        candidate=application.candidate,
        line1="12 rue des Lilas",
        line2="Bât. B",
        postal_code="66000",
        city="PERPIGNAN",
    )
    BaccalaureateFactory(candidate=application.candidate, country="FR", department="66", city="Perpignan")
    when = timezone.make_aware(datetime.datetime(2026, 6, 3, 9, 30))
    decision = staff.record_decision(
        application,
        decision_type=decision_type(Avis.PRESELECTION),
        actor=centre_manager,
        preselection_at=when,
        preselection_place="Salle B204",
    )
    staff.validate_decision(decision, actor=central_manager)
    Opi.objects.create(application=application, code="ECAB123456", passed_at=when)
    client.force_login(centre_manager)
    keys = [
        "address_line1",
        "address_line2",
        "address_city",
        "address_foreign_city",
        "bac_department",
        "bac_city",
        "commission",
        "decision_entered_by",
        "decision_validated_by",
        "preselection_at",
        "preselection_place",
        "opi_code",
        "opi_passed_at",
    ]

    header, row = csv_rows(post_export(client, keys))

    assert row == [
        "12 rue des Lilas",
        "Bât. B",
        "PERPIGNAN",
        "",
        "Pyrénées-Orientales (66)",
        "Perpignan",
        formation.commission.label,
        centre_manager.username,
        central_manager.username,
        "03/06/2026 09:30",
        "Salle B204",
        "ECAB123456",
        "03/06/2026 09:30",
    ]


def test_countries_are_named_in_the_reader_language(
    client, centre_manager, formation, campaign, django_assert_num_queries
):
    """The country columns name the country (as the dossier page and PDF do), not its ISO code: « Allemagne »."""
    application = make_application(formation, campaign=campaign)
    candidate = application.candidate
    candidate.birth_country, candidate.nationality = "DE", "DE"
    candidate.save()
    AddressFactory(candidate=candidate, country="BE", city="", foreign_city="Liège", postal_code="4000")
    BaccalaureateFactory(candidate=candidate, country="FR", department="66", city="Perpignan")
    client.force_login(centre_manager)

    columns = ["birth_country", "nationality", "country", "bac_country"]
    with django_assert_num_queries(31):
        french = client.post(reverse(URL), {"columns": columns, "fmt": "xlsx", "filters": ""}, language="fr")
        content = b"".join(french.streaming_content)
    english = post_export(client, columns)

    sheet = load_workbook(io.BytesIO(content)).active
    assert [cell.value for cell in next(sheet.iter_rows(min_row=2, max_row=2))] == [
        "Allemagne",
        "Allemagne",
        "Belgique",
        "France",
    ]
    assert csv_rows(english)[1] == ["Germany", "Germany", "Belgium", "France"]


def test_an_answer_to_another_centres_form_is_not_exported(client, centre_manager, rich, other_centre):
    """A form answered once for the candidate (numDossier only) is exported with the applications it concerns: the
    ones whose formation it is attached to, or common to the institution or to their centre; another centre's form is
    not this centre's business (the reading page does not show it either)."""
    elsewhere = ComplementaryForm.objects.create(
        code="HANDI", survey_id=2, label="Handicap", candidate_label="Handicap", url="https://x", is_common=True
    )
    elsewhere.centre = other_centre
    elsewhere.save()
    everywhere = ComplementaryForm.objects.create(
        code="ALL", survey_id=3, label="Tous", candidate_label="Tous", url="https://x", is_common=True
    )
    FormAnswer.objects.create(form=elsewhere, candidate=rich.candidate, answers={"Besoin ?": "SECRET"})
    FormAnswer.objects.create(form=everywhere, candidate=rich.candidate, answers={"Langue ?": "FR"})
    client.force_login(centre_manager)

    header, row = csv_rows(post_export(client, ["numero", "form_answers"]))

    assert row[1].splitlines() == ["Motivation / Pourquoi ? : Passion", "Tous / Langue ? : FR"]


def test_choice_is_saved_and_offered_again(client, centre_manager, rich):
    client.force_login(centre_manager)

    post_export(client, ["email", "numero"])

    assert ExportColumns.objects.get(user=centre_manager).columns == ["numero", "email"]
    page = client.get(reverse(URL))
    assert page.context["form"]["columns"].value() == ["numero", "email"]


def test_no_column_is_refused_in_french(client, centre_manager):
    client.force_login(centre_manager)

    response = client.post(reverse(URL), {"fmt": "csv"}, language="fr")

    assert response.status_code == 200
    assertContains(response, "Cochez au moins une colonne.")


def test_scope_and_filters(client, centre_manager, other_centre_manager, rich, other_centre, campaign):
    other = make_application(FormationFactory(centre=other_centre, code="MDROIT"), campaign=campaign)
    make_application(rich.formation, campaign=campaign, status=DossierStatus.RECEIVED)
    client.force_login(other_centre_manager)
    assert [row[0] for row in csv_rows(post_export(client, ["formation_code"]))[1:]] == ["MDROIT"]

    client.force_login(centre_manager)
    rows = csv_rows(post_export(client, ["numero"], filters="dossier_status__exact=CO"))[1:]

    assert rows == [[rich.candidate.user.username]]
    assert other.pk


def test_xlsx(client, centre_manager, rich):
    client.force_login(centre_manager)

    response = post_export(client, ["numero", "decision_validated", "formation"], fmt="xlsx", filters="")

    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    # In the order of the chooser, whatever the order ticked.
    assert [cell.value for cell in sheet[1]] == ["Dossier number", "Formation", "Decision validated on"]
    assert sheet["B2"].value == "Master Informatique"
    assert sheet["C2"].value is not None


def test_xlsx_dates_read_the_french_way_and_a_telephone_as_typed(client, centre_manager, rich):
    """Regression: the XLSX showed "2001-03-09" and "2026-12-01 14:52:31" (openpyxl's ISO formats) and the mobile
    "'+33612345670" (the CSV's apostrophe, visible in a text cell that a spreadsheet never evaluates)."""
    candidate = rich.candidate
    candidate.mobile = "+33612345670"
    candidate.birth_date = datetime.date(2001, 3, 9)
    candidate.save()
    client.force_login(centre_manager)

    response = post_export(
        client, ["birth_name", "birth_date", "mobile", "decision_validated"], fmt="xlsx", filters=""
    )

    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    birth_name, birth_date, mobile, validated = sheet[2]
    assert birth_name.value == '\'=HYPERLINK("http://evil")'  # a formula stays inert
    assert mobile.value == "+33612345670"
    assert mobile.data_type == "s"
    assert birth_date.value == datetime.datetime(2001, 3, 9)
    assert birth_date.number_format == "DD/MM/YYYY"
    assert isinstance(validated.value, datetime.datetime)
    assert validated.number_format == "DD/MM/YYYY HH:MM"


def test_xlsx_leaves_out_the_control_characters_a_worksheet_cannot_hold(
    client, centre_manager, rich, django_assert_num_queries
):
    """Regression (hostile-input audit, 2026-12-03): a vertical tab or an escape in a candidate's name or answer
    (the dossier's forms refuse only NUL) made openpyxl refuse the whole XLSX, a 500 for every export holding that
    candidate. They are left out, before the formula check: a formula behind a vertical tab stays inert."""
    candidate = rich.candidate
    candidate.birth_name = '\x0b=HYPERLINK("http://evil")'
    candidate.first_name = "Jean\x1b\x08"
    candidate.save()
    client.force_login(centre_manager)

    with django_assert_num_queries(32):  # unchanged by the fix: the cells are cleaned in memory
        response = post_export(client, ["birth_name", "first_name"], fmt="xlsx", filters="")
        content = b"".join(response.streaming_content)

    birth_name, first_name = load_workbook(io.BytesIO(content)).active[2]
    assert birth_name.value == '\'=HYPERLINK("http://evil")'
    assert first_name.value == "Jean"


def test_dashboard_xlsx_leaves_out_control_characters(client, centre_manager, rich, django_assert_num_queries):
    rich.formation.title = "Master\x0bInformatique"
    rich.formation.save()
    client.force_login(centre_manager)

    with django_assert_num_queries(8):
        response = client.get(reverse("admin:applications_application_dashboard"), {"format": "xlsx"})

    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["B2"].value == "MasterInformatique"


@pytest.mark.parametrize("count", [2, 12])
def test_queries_constant_per_chunk(
    client, centre_manager, formation, campaign, count, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(export_columns, "CHUNK", 5)
    for _ in range(count):
        make_application(formation, campaign=campaign)
    client.force_login(centre_manager)
    chunks = -(-count // 5)

    with django_assert_num_queries(23 + 8 * chunks):  # per chunk: the question answers and the forms included
        response = post_export(client, list(export_columns.COLUMNS))
        rows = csv_rows(response)

    assert len(rows) == count + 1


def test_dashboard_exports_xlsx(client, centre_manager, rich):
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_dashboard"), {"format": "xlsx"})

    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A2"].value == "MINFO"


def test_answers_given_after_not_concerned_are_exported(client, centre_manager, rich):
    """« Non concerné », then the survey filled anyway: the answers are exported, as the staff page shows them."""
    form = ComplementaryForm.objects.create(
        code="STAGE", survey_id=4, label="Stage", candidate_label="Stage", url="https://x", is_common=True
    )
    FormAnswer.objects.create(
        form=form,
        candidate=rich.candidate,
        not_concerned=True,
        submitted_at=timezone.now(),
        answers={"Q01": "Stage chez Ifremer"},
    )
    FormAnswer.objects.create(
        form=ComplementaryForm.objects.create(
            code="HANDI",
            survey_id=5,
            label="Handicap",
            candidate_label="Handicap",
            url="https://x",
            is_common=True,
            is_conditional=True,  # a declaration stands only while the form is conditional
        ),
        candidate=rich.candidate,
        not_concerned=True,
    )
    client.force_login(centre_manager)

    header, row = csv_rows(post_export(client, ["numero", "form_answers"]))

    lines = row[1].splitlines()  # with the rich application's own form ("Motivation")
    assert "Stage / Q01 : Stage chez Ifremer" in lines
    assert "Stage : not concerned" not in lines
    assert "Handicap : not concerned" in lines


def test_a_declaration_on_a_form_made_required_since_is_not_exported(
    client, centre_manager, rich, django_assert_num_queries
):
    """« Non concerné » declared while the form was conditional, then the form made required: the dossier shows it
    waiting again (``forms_tab.form_rows``, README), and the export writes nothing for it, as for any form waiting
    for its answers; it wrote « non concerné »."""
    required = ComplementaryForm.objects.create(
        code="HANDI", survey_id=5, label="Handicap", candidate_label="Handicap", url="https://x"
    )
    waiting = ComplementaryForm.objects.create(
        code="LANGUES", survey_id=6, label="Langues", candidate_label="Langues", url="https://x"
    )
    rich.formation.forms.add(required, waiting)
    FormAnswer.objects.create(form=required, candidate=rich.candidate, application=rich, not_concerned=True)
    assert {row.form.code: row.status for row in form_rows(rich)} == {
        "HANDI": "AT",
        "LANGUES": "AT",
        "MOTIV": "AT",  # the rich application's form, its answer not submitted
    }
    client.force_login(centre_manager)

    # One chunk: its rows and prefetches (the form answers with their forms, the formation's forms); no query per form.
    with django_assert_num_queries(32):
        header, row = csv_rows(post_export(client, ["numero", "form_answers"]))

    assert row[1].splitlines() == ["Motivation / Pourquoi ? : Passion"]  # neither Handicap nor Langues


def test_the_file_follows_the_lists_sort(client, centre_manager, formation, campaign):
    """The rows come in the order the list shows them, as the plain « Exporter » writes them (they came by id)."""
    for name in ("BERNARD", "ARNAUD", "CHARLES"):  # neither the ids' order nor its reverse
        candidate = make_application(formation, campaign=campaign).candidate
        candidate.birth_name = name
        candidate.save(update_fields=["birth_name"])
    client.force_login(centre_manager)
    changelist = reverse("admin:applications_application_changelist")
    orders = {}
    for sort in ("o=1", "o=-1"):  # by name, both ways
        shown = [obj.candidate.user.username for obj in client.get(f"{changelist}?{sort}").context["cl"].result_list]
        rows = csv_rows(post_export(client, ["numero"], filters=sort))[1:]
        assert [row[0] for row in rows] == shown
        orders[sort] = shown
    assert orders["o=1"] == orders["o=-1"][::-1]
