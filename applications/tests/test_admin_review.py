"""The application page laid out for reading (issue 11): personas × page and actions, pieces, Complet, notes, tags,
Suivant/Précédent, query counts."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import translation

from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.models import (
    ApplicationEvent,
    ApplicationNote,
    ApplicationTag,
    Baccalaureate,
    ExternalCursus,
    Internship,
    PieceSubmission,
    Tag,
    WorkExperience,
)
from applications.services import review, staff
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import decision_type, make_application, with_file
from applications.tests.helpers import change_url, operation_url
from documents.enums import ScanStatus
from offers.enums import Avis
from offers.tests.factories import FormationFactory


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


@pytest.fixture
def persona(
    request, candidate, centre_manager, other_centre_manager, commission_member, central_manager, read_only_staff
):
    return {
        "candidate": candidate.user,
        "centre_manager": centre_manager,
        "other_centre_manager": other_centre_manager,
        "commission_member": commission_member,
        "central_manager": central_manager,
        "read_only": read_only_staff,
    }[request.param]


@pytest.fixture(autouse=True)
def _french(client):
    """This module reads the pages in French, the back office's language (overrides the package's English)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "fr"
    with translation.override("fr"):
        yield


@pytest.fixture(autouse=True)
def _warm_content_types(db):
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    ContentType.objects.get_for_model(PieceSubmission)


def url(name, application, *args):
    return reverse(f"admin:applications_application_{name}", args=[application.pk, *args])


def fill_dossier(application):
    candidate = application.candidate
    Baccalaureate.objects.create(candidate=candidate, series="S", year=2019, school="Lycée Camille Jullian")
    ExternalCursus.objects.create(
        candidate=candidate, year=2022, label="Licence de physique", obtained="O", country="FR", school="Univ. Pau"
    )
    Internship.objects.create(candidate=candidate, year=2023, organisation="EDF R&D", duration="3 mois")
    WorkExperience.objects.create(
        candidate=candidate, year=2024, title="Technicien", organisation="Engie", duration="1 an"
    )


# --- reading ------------------------------------------------------------------------------------------------------


def test_page_reads_the_whole_dossier_in_commission_order(client, commission_member, application, centre_manager):
    fill_dossier(application)
    submission = with_file(application, label="Relevé de notes")
    set_piece_status(submission=submission, status=PieceStatus.REFUSED, comment="scan illisible", actor=centre_manager)
    client.force_login(commission_member)

    response = client.get(change_url(application))

    assert response.status_code == 200
    html = response.content.decode()
    candidate = application.candidate
    assert (
        f'<h1 id="dossier-title">{candidate.birth_name.upper()} {candidate.first_name} — Master Énergie</h1>' in html
    )
    order = [
        "Identité et coordonnées",
        "Baccalauréat ou équivalence",
        "Cursus interne",
        "Cursus externe",
        "Stages",
        "Expériences pro.",
        "Formulaires complémentaires",
        "Pièces justificatives",
        "Avis",
        "Historique",
    ]
    positions = [html.index(f">{title}</h2>") for title in order]
    assert positions == sorted(positions)
    assert "Lycée Camille Jullian" in html
    assert "EDF R&amp;D" in html
    assert "Technicien" in html
    assert "Pièce refusée « Relevé de notes » par gestionnaire : scan illisible" in html
    assert "piece_status" not in html
    assert "AT→RE" not in html
    # The commission member reads: no check buttons, no tag form.
    assert url("piece_check", application, submission.public_id) not in html
    assert url("tags", application) not in html


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 200),
        ("central_manager", 200),
        ("read_only", 200),
    ],
    indirect=["persona"],
)
def test_page_personas(client, persona, application, expected):
    client.force_login(persona)
    assert client.get(change_url(application)).status_code == expected


def _crowd(application, actor, count):
    """``count`` pieces, decisions, notes and history rows."""
    for index in range(count):
        with_file(application, label=f"Pièce {index}")
        staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=actor)
        review.add_note(application=application, actor=actor, text=f"note {index}")


@pytest.mark.parametrize("count", [1, 6])
def test_page_query_count_does_not_grow(client, django_assert_num_queries, centre_manager, application, count):
    _crowd(application, centre_manager, count)
    tag = Tag.objects.create(label="Prioritaire")
    review.set_tags(application=application, actor=centre_manager, tags=[tag])
    client.force_login(centre_manager)

    with django_assert_num_queries(QUERIES_PAGE):
        response = client.get(change_url(application))

    assert len(response.context["piece_items"]) == count
    assert len(response.context["notes"]) == count
    assert len(response.context["decisions"]) == count


QUERIES_PAGE = 33


# --- pieces -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 302),
        ("other_centre_manager", 404),
        ("commission_member", 403),
        ("central_manager", 302),
        ("read_only", 403),
    ],
    indirect=["persona"],
)
def test_piece_check_personas(client, persona, application, expected):
    submission = with_file(application)
    client.force_login(persona)
    response = client.post(url("piece_check", application, submission.public_id), {"status": "VA"})
    assert response.status_code == expected


def test_refuse_returns_to_the_piece_with_the_list_filters(
    client, django_assert_num_queries, centre_manager, application
):
    submission = with_file(application)
    client.force_login(centre_manager)

    with django_assert_num_queries(17):
        response = client.post(
            url("piece_check", application, submission.public_id),
            {"status": "RE", "comment": "scan illisible", "_changelist_filters": "dossier_status__exact=RE"},
        )

    assert response.status_code == 302
    assert response["Location"] == (
        change_url(application)
        + "?_changelist_filters=dossier_status__exact%3DRE"
        + f"#piece-{submission.piece_type_id}"
    )
    submission.refresh_from_db()
    assert submission.status == PieceStatus.REFUSED
    page = client.get(response["Location"]).content.decode()
    assert "Relevé de notes : Refusée." in page  # the message, kept in sight by the sticky message list


def test_a_second_click_changes_nothing(client, centre_manager, application):
    submission = with_file(application)
    client.force_login(centre_manager)
    target = url("piece_check", application, submission.public_id)

    client.post(target, {"status": "VA"})
    response = client.post(target, {"status": "VA"}, follow=True)

    assert ApplicationEvent.objects.filter(application=application, kind=EventKind.PIECE_STATUS).count() == 1
    assert "Relevé de notes : déjà Validée." in response.content.decode()
    # Validated: the page offers "Refuser" only.
    actions = response.context["piece_items"][0].actions
    assert [value for value, _label in actions] == [PieceStatus.REFUSED]


def test_the_service_ignores_a_replay(centre_manager, application):
    submission = with_file(application)
    set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)
    set_piece_status(submission=submission, status=PieceStatus.VALIDATED, actor=centre_manager)

    assert ApplicationEvent.objects.filter(application=application, kind=EventKind.PIECE_STATUS).count() == 1


def test_validate_all_submitted_pieces_in_one_step(client, django_assert_num_queries, centre_manager, application):
    pieces = [with_file(application, label=f"Pièce {index}") for index in range(3)]
    pending = with_file(application, label="Pièce au scan")
    pending.document.scan_status = ScanStatus.PENDING
    pending.document.save()
    refused = with_file(application, label="Pièce refusée", status=PieceStatus.REFUSED)
    client.force_login(centre_manager)

    with django_assert_num_queries(33):  # per piece: lock, update, history row (a write, one transaction)
        response = client.post(url("validate_pieces", application))
    again = client.post(url("validate_pieces", application), follow=True)

    assert response.status_code == 302
    assert response["Location"].endswith("#pieces")
    for piece in pieces:
        piece.refresh_from_db()
        assert piece.status == PieceStatus.VALIDATED
    pending.refresh_from_db()
    refused.refresh_from_db()
    assert (pending.status, refused.status) == (PieceStatus.SUBMITTED, PieceStatus.REFUSED)
    assert ApplicationEvent.objects.filter(application=application, kind=EventKind.PIECE_STATUS).count() == 3
    assert "Aucune pièce transmise n’attendait de contrôle." in again.content.decode()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 302),
        ("other_centre_manager", 404),
        ("commission_member", 403),
        ("central_manager", 302),
        ("read_only", 403),
    ],
    indirect=["persona"],
)
def test_validate_all_personas(client, persona, application, expected):
    with_file(application)
    client.force_login(persona)
    assert client.post(url("validate_pieces", application)).status_code == expected


def test_validate_all_is_post_only(client, centre_manager, application):
    client.force_login(centre_manager)
    assert client.get(url("validate_pieces", application)).status_code == 405


# --- preview ------------------------------------------------------------------------------------------------------


@pytest.fixture
def stored_piece(application, settings):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    submission = with_file(application)
    name = default_storage.save("C/preview.png", ContentFile(PNG_BYTES))
    submission.document.file = name
    submission.document.content_type = "image/png"
    submission.document.save()
    return submission


PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 200),
        ("central_manager", 200),
        ("read_only", 200),
    ],
    indirect=["persona"],
)
def test_preview_personas(client, persona, application, stored_piece, expected):
    client.force_login(persona)
    assert client.get(url("piece_preview", application, stored_piece.public_id)).status_code == expected


def test_preview_is_sandboxed_inline_and_never_sniffed(
    client, django_assert_num_queries, centre_manager, application, stored_piece
):
    client.force_login(centre_manager)

    with django_assert_num_queries(10):
        response = client.get(url("piece_preview", application, stored_piece.public_id))

    assert response["Content-Security-Policy"].startswith("sandbox;")
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert b"".join(response.streaming_content) == PNG_BYTES
    page = client.get(change_url(application)).content.decode()
    assert f'<img src="{url("piece_preview", application, stored_piece.public_id)}"' in page


def test_a_pdf_is_not_previewed_inline(client, centre_manager, application, stored_piece):
    """Chromium will not render a PDF in a sandboxed frame, and an unsandboxed one would run the candidate's file in
    the app's origin: PDFs are downloaded, never previewed."""
    stored_piece.document.content_type = "application/pdf"
    stored_piece.document.save()
    client.force_login(centre_manager)

    assert client.get(url("piece_preview", application, stored_piece.public_id)).status_code == 404
    page = client.get(change_url(application)).content.decode()
    assert url("piece_preview", application, stored_piece.public_id) not in page
    assert "<iframe" not in page


@pytest.mark.parametrize("scan", [ScanStatus.PENDING, ScanStatus.INFECTED, ScanStatus.ERROR])
def test_preview_waits_for_the_antivirus(client, centre_manager, application, stored_piece, scan):
    stored_piece.document.scan_status = scan
    stored_piece.document.save()
    client.force_login(centre_manager)

    assert client.get(url("piece_preview", application, stored_piece.public_id)).status_code == 404
    assert (
        url("piece_preview", application, stored_piece.public_id)
        not in client.get(change_url(application)).content.decode()
    )


def test_preview_of_another_applications_piece_is_not_found(client, centre_manager, application, formation, campaign):
    other = with_file(make_application(formation, campaign=campaign))
    client.force_login(centre_manager)
    assert client.get(url("piece_preview", application, other.public_id)).status_code == 404


# --- Complet ------------------------------------------------------------------------------------------------------


def test_status_form_preselects_nothing(client, centre_manager, application):
    client.force_login(centre_manager)

    page = client.get(operation_url(application, "set_status")).content.decode()
    response = client.post(operation_url(application, "set_status"), {"comment": ""})

    assert '<option value="" selected>' in page
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.content.decode()
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED


def test_complete_with_unchecked_pieces_needs_a_reason(client, centre_manager, application):
    with_file(application, label="Relevé de notes")
    client.force_login(centre_manager)

    refused = client.post(operation_url(application, "set_status"), {"target": "CO"}, follow=True)
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.RECEIVED
    assert "1 pièce(s) non validée(s) (Relevé de notes – Transmise)" in refused.content.decode()

    no_reason = client.post(operation_url(application, "set_status"), {"target": "CO", "force_complete": "on"})
    assert "Donnez la raison" in no_reason.content.decode()

    client.post(
        operation_url(application, "set_status"),
        {"target": "CO", "force_complete": "on", "force_reason": "pièce reçue par courrier"},
    )
    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.COMPLETE
    forced = ApplicationEvent.objects.get(application=application, kind=EventKind.COMPLETE_FORCED)
    assert forced.actor == centre_manager
    assert forced.comment == "pièce reçue par courrier (Relevé de notes)"


def test_complete_with_every_piece_validated_needs_no_reason(centre_manager, application):
    with_file(application, status=PieceStatus.VALIDATED)

    review.set_dossier_status_checked(application, target=DossierStatus.COMPLETE, actor=centre_manager)

    application.refresh_from_db()
    assert application.dossier_status == DossierStatus.COMPLETE
    assert not ApplicationEvent.objects.filter(kind=EventKind.COMPLETE_FORCED).exists()


# --- Suivant / Précédent ------------------------------------------------------------------------------------------


def test_next_and_previous_follow_the_filtered_sorted_list(client, centre_manager, formation, campaign):
    first, second, third = (make_application(formation, campaign=campaign) for _ in range(3))
    make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)  # filtered out
    # Column 2 (after the action checkbox and the name): the numéro de dossier, descending.
    filters = urlencode({"dossier_status__exact": "RE", "o": "-2"})
    ordered = sorted([first, second, third], key=lambda a: a.candidate.user.username, reverse=True)
    client.force_login(centre_manager)

    response = client.get(change_url(ordered[1]) + "?" + urlencode({"_changelist_filters": filters}))

    nav = response.context["nav"]
    assert (nav["position"], nav["count"]) == (2, 3)
    assert nav["previous_url"] == change_url(ordered[0]) + "?" + urlencode({"_changelist_filters": filters})
    assert nav["next_url"] == change_url(ordered[2]) + "?" + urlencode({"_changelist_filters": filters})
    assert "Candidature 2 sur 3 dans la liste" in response.content.decode()


def test_navigation_survives_hand_made_filters(client, centre_manager, application):
    client.force_login(centre_manager)
    response = client.get(change_url(application) + "?_changelist_filters=o%3Dzzz%26nope%3D1")
    assert response.status_code == 200


# --- notes and tags -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected", "notes"),
    [
        ("candidate", 302, 0),  # sent to the login page
        ("centre_manager", 302, 1),
        ("other_centre_manager", 404, 0),
        ("commission_member", 302, 1),
        ("central_manager", 302, 1),
        ("read_only", 403, 0),
    ],
    indirect=["persona"],
)
def test_note_personas(client, persona, application, expected, notes):
    client.force_login(persona)
    assert client.post(url("note", application), {"text": "Bon dossier"}).status_code == expected
    assert ApplicationNote.objects.count() == notes


def test_notes_are_timestamped_and_never_on_the_candidate_side(client, commission_member, application):
    client.force_login(commission_member)
    response = client.post(url("note", application), {"text": "À revoir en jury"}, follow=True)
    assert "À revoir en jury" in response.content.decode()
    empty = client.post(url("note", application), {"text": "  "}, follow=True)
    assert "Écrivez la note avant de l’enregistrer." in empty.content.decode()

    client.force_login(application.candidate.user)
    candidate_pages = [
        reverse("applications:application_list"),
        reverse("applications:detail", args=[application.public_id]),
    ]
    for page in candidate_pages:
        assert "À revoir en jury" not in client.get(page).content.decode()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 302),
        ("other_centre_manager", 404),
        ("commission_member", 403),
        ("central_manager", 302),
        ("read_only", 403),
    ],
    indirect=["persona"],
)
def test_tags_personas(client, persona, application, expected):
    tag = Tag.objects.create(label="Prioritaire")
    client.force_login(persona)
    assert client.post(url("tags", application), {"tags": [tag.pk]}).status_code == expected


def test_tags_are_global_or_of_the_centre(client, centre_manager, application, centre, other_centre):
    global_tag = Tag.objects.create(label="Prioritaire", colour="#aa0000")
    own = Tag.objects.create(label="Entretien", centre=centre)
    foreign = Tag.objects.create(label="Autre", centre=other_centre)
    Tag.objects.create(label="Ancien", centre=centre, in_service=False)
    client.force_login(centre_manager)

    offered = client.get(change_url(application)).context["usable_tags"]
    refused = client.post(url("tags", application), {"tags": [global_tag.pk, foreign.pk]}, follow=True)
    client.post(url("tags", application), {"tags": [global_tag.pk, own.pk]})

    assert {tag.label for tag in offered} == {"Prioritaire", "Entretien"}
    assert "Une de ces étiquettes ne peut pas être utilisée ici." in refused.content.decode()
    assert set(ApplicationTag.objects.values_list("tag__label", flat=True)) == {"Prioritaire", "Entretien"}
    client.post(url("tags", application), {"tags": [own.pk]})
    assert list(ApplicationTag.objects.values_list("tag__label", flat=True)) == ["Entretien"]


def test_other_centre_tag_is_not_found_even_for_its_id(client, other_centre_manager, application):
    client.force_login(other_centre_manager)
    assert client.post(url("note", application), {"text": "x"}).status_code == 404


def test_an_operation_comes_back_to_the_dossier_inside_its_list(client, centre_manager, application):
    filters = "dossier_status__exact=RE"
    client.force_login(centre_manager)
    page = client.get(change_url(application) + "?" + urlencode({"_changelist_filters": filters})).content.decode()
    link = operation_url(application, "set_status") + "?" + urlencode({"_changelist_filters": filters})
    assert f'href="{link}"' in page

    response = client.post(link, {"target": "IN"})

    assert response["Location"] == change_url(application) + "?" + urlencode({"_changelist_filters": filters})


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 200),
        ("central_manager", 200),
        ("read_only", 200),
    ],
    indirect=["persona"],
)
def test_candidates_dossier_admin_is_readable_by_staff_in_scope(client, persona, application, expected):
    """The "Candidats" page no longer answers 403 to the staff who must read the dossier; changes stay central."""
    fill_dossier(application)
    client.force_login(persona)

    response = client.get(reverse("admin:applications_candidate_change", args=[application.candidate.pk]))

    assert response.status_code == expected
    if expected == 200 and persona.username != "scolarite":
        assert "Lycée Camille Jullian" in response.content.decode()
        assert response.context["has_change_permission"] is False
