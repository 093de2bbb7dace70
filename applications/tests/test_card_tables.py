"""The candidate's tables read as cards on a phone (static/css/app.css below 44em): every element of each carries its
table role (table, rowgroup, row, columnheader, rowheader, cell), which the table keeps once laid out as blocks, so
that a screen reader reads the column header, the cell's label being hidden from it (its alternative text "").
The browser side is test_browser_candidate_tables.py."""

import pytest
from django.urls import reverse

from applications.tests.factories import (
    ExternalCursusFactory,
    InternalCursusFactory,
    InternshipFactory,
    WorkExperienceFactory,
)
from applications.tests.factories_candidature import ApplicationFactory, DecisionFactory, PieceSubmissionFactory
from ecandidat.tests.tables import card_table, card_table_roles
from offers.models import ComplementaryForm
from offers.tests.factories import PieceTypeFactory, make_question

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_pages_cache")]


def test_the_applications_list(owner_client, candidate, django_assert_num_queries):
    for _ in range(2):
        DecisionFactory(application=ApplicationFactory(candidate=candidate), validated=True)

    with django_assert_num_queries(3):  # session, user, the applications with their current decision
        response = owner_client.get(reverse("applications:application_list"))

    # Formation (the row's header), return deadline, dossier status, decision, "Open".
    assert card_table_roles(response.content.decode()) == [card_table(columns=5, rows=2, cells=2 * 4)]


def test_the_application_pieces_questions_and_forms(owner_client, candidate, django_assert_num_queries):
    application = ApplicationFactory(candidate=candidate)
    formation = application.formation
    for label in ("Lettre de motivation", "Relevé de notes"):
        PieceSubmissionFactory(application=application, piece_type=PieceTypeFactory(is_common=True, label=label))
    formation.questions.add(make_question("PROJET"))
    formation.forms.add(
        ComplementaryForm.objects.create(
            code="F1", survey_id=1, label="Enquête", candidate_label="Questionnaire", url="https://enquetes.example/1"
        )
    )

    # session, user, the application, piece types, submissions with their documents, forms, their answers, questions,
    # their answers
    with django_assert_num_queries(9):
        response = owner_client.get(reverse("applications:detail", args=[application.public_id]))

    assert card_table_roles(response.content.decode()) == [
        card_table(columns=5, rows=2, cells=2 * 4),  # the pieces: the piece, file, status, conditional, comment
        card_table(columns=3, rows=1, cells=2),  # the questions: the question, status, answer
        card_table(columns=5, rows=1, cells=4),  # the forms: the form, URL, status, answers, "See the answers"
    ]


def test_the_pieces_page(owner_client, candidate, django_assert_num_queries):
    application = ApplicationFactory(candidate=candidate)
    PieceSubmissionFactory(application=application, piece_type=PieceTypeFactory(is_common=True))

    with django_assert_num_queries(5):  # session, user, the application, piece types, submissions with documents
        response = owner_client.get(reverse("pieces:pieces", args=[application.public_id]))

    assert card_table_roles(response.content.decode()) == [card_table(columns=5, rows=1, cells=4)]


@pytest.mark.parametrize(
    ("name", "make_row", "columns", "row_cells"),
    [
        # Year, code, the label (the row's header), result, honours, grade.
        ("applications:internal_cursus", InternalCursusFactory, 6, 5),
        # Year, title (the row's header), diploma, obtained, country, city, school, honours, Edit/Delete.
        ("applications:external_cursus_list", ExternalCursusFactory, 9, 8),
        # Year, duration, hours, organisation (the row's header), description, Edit/Delete.
        ("applications:internship_list", InternshipFactory, 6, 5),
        # Year, duration, job title (the row's header), organisation, description, Edit/Delete.
        ("applications:work_experience_list", WorkExperienceFactory, 6, 5),
    ],
)
def test_the_dossier_lists(owner_client, candidate, django_assert_num_queries, name, make_row, columns, row_cells):
    make_row.create_batch(2, candidate=candidate)

    with django_assert_num_queries(6):  # as in test_views_dossier: the rows do not add any
        response = owner_client.get(reverse(name))

    assert card_table_roles(response.content.decode()) == [card_table(columns=columns, rows=2, cells=2 * row_cells)]


@pytest.mark.parametrize(
    ("name", "make_row", "header"),
    [
        ("applications:external_cursus_list", ExternalCursusFactory, "label"),
        ("applications:internship_list", InternshipFactory, "organisation"),
        ("applications:work_experience_list", WorkExperienceFactory, "title"),
    ],
)
def test_edit_and_delete_name_their_row(owner_client, candidate, django_assert_num_queries, name, make_row, header):
    """A screen reader's list of links reads "Edit – <the row's header>", not two rows of bare "Edit"."""
    rows = make_row.create_batch(2, candidate=candidate)

    with django_assert_num_queries(6):
        page = owner_client.get(reverse(name)).content.decode()

    for row in rows:
        for action in ("Edit", "Delete"):
            assert f'{action}<span class="visually-hidden"> – {getattr(row, header)}</span></a>' in page
