"""The application page laid out for reading (issue 11): personas × page and actions, pieces, Complet, notes, tags,
Suivant/Précédent, query counts."""

import datetime
import hashlib
import html
import io
import re
from urllib.parse import urlencode

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone, translation
from fpdf import FPDF
from PIL import Image

from applications.admin import review_actions
from applications.admin.review import history_line
from applications.enums import DossierStatus, EventKind, PieceStatus
from applications.models import (
    Application,
    ApplicationEvent,
    ApplicationNote,
    ApplicationTag,
    Baccalaureate,
    ExternalCursus,
    Internship,
    Opi,
    PieceSubmission,
    Tag,
    WorkExperience,
)
from applications.services import review, staff
from applications.services.pieces import set_piece_status
from applications.tests.factories_candidature import decision_type, make_application, with_file
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url, operation_url
from documents import preview as preview_module
from documents.enums import ScanStatus
from documents.tests import hostile_files
from offers.enums import Avis
from offers.tests.factories import FormationFactory

# The persona matrices of this page. READERS: who reads a dossier (another centre 404, a candidate the login
# page). MANAGERS_ACT: who acts on it from the page (managers are sent back to the dossier: 302; commission and
# read-only staff 403).
READERS = [
    ("candidate", 302),
    ("centre_manager", 200),
    ("other_centre_manager", 404),
    ("commission_member", 200),
    ("central_manager", 200),
    ("read_only", 200),
]
MANAGERS_ACT = [
    ("candidate", 302),
    ("centre_manager", 302),
    ("other_centre_manager", 404),
    ("commission_member", 403),
    ("central_manager", 302),
    ("read_only", 403),
]


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture(autouse=True)
def _warm_content_types(db):
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
        f'<h1 id="dossier-title">{candidate.birth_name.upper()} {candidate.first_name} — '
        '<span lang="fr">Master Énergie</span></h1>' in html
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
    assert (
        'Pièce refusée « <span lang="fr">Relevé de notes</span> » par gestionnaire : <span lang="fr">scan illisible'
        in html
    )
    # Each line's time is machine-readable as HTML allows it: seconds at most, no microseconds.
    stamps = re.findall(r'<time datetime="([^"]+)"', html)
    assert stamps
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", stamp) for stamp in stamps), stamps
    assert "piece_status" not in html
    assert "AT→RE" not in html
    # The commission member reads: no check buttons, no tag form.
    assert url("piece_check", application, submission.public_id) not in html
    assert url("tags", application) not in html


@pytest.mark.parametrize(
    ("phone", "mobile", "shown", "hidden"),
    [
        ("", "+33612345671", ["<dt>Téléphone portable</dt><dd>06 12 34 56 71</dd>"], ["<dt>Téléphone</dt>"]),
        ("+33468000000", "", ["<dt>Téléphone</dt><dd>04 68 00 00 00</dd>"], ["Téléphone portable"]),
        (
            "+34612345678",
            "+33612345671",
            ["<dt>Téléphone</dt><dd>+34 612 34 56 78</dd>", "<dt>Téléphone portable</dt><dd>06 12 34 56 71</dd>"],
            [],
        ),
        ("", "", ["<dt>Téléphone</dt><dd>—</dd>"], ["Téléphone portable"]),
    ],
)
def test_each_phone_number_is_named(client, centre_manager, application, phone, mobile, shown, hidden):
    """A mobile alone read "Téléphone — · +336…": each number now has its own line and name, French numbers as
    French people write them, others in international form."""
    application.candidate.phone, application.candidate.mobile = phone, mobile
    application.candidate.save()
    client.force_login(centre_manager)

    html = re.sub(r">\s+<", "><", client.get(change_url(application)).content.decode())

    for line in shown:
        assert line in html
    for line in hidden:
        assert line not in html


def test_the_page_names_places_as_staff_say_them(client, django_assert_num_queries, centre_manager, application):
    """The dossier stores ISO codes and INSEE numbers: the page said "(FR)" and "Nationalité FR"."""
    candidate = application.candidate
    candidate.birth_city, candidate.birth_department, candidate.birth_country = "Perpignan", "66", "FR"
    candidate.nationality = "ES"
    candidate.save()
    fill_dossier(application)
    Baccalaureate.objects.filter(candidate=candidate).update(country="MA", city="Rabat")
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application))

    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))
    assert "Perpignan, Pyrénées-Orientales (66) (France)" in text
    assert "Nationalité Espagne" in text
    assert "Rabat (Maroc)" in text
    assert "Univ. Pau (France)" in text
    assert "(FR)" not in text


@pytest.mark.parametrize(
    ("school", "city", "country", "shown"),
    [
        ("", "", "FR", "Établissement France"),
        ("", "Rabat", "MA", "Établissement Rabat (Maroc)"),
        ("Lycée Arago", "", "FR", "Établissement Lycée Arago (France)"),
        ("", "", "", "Établissement —"),
    ],
)
def test_the_bac_school_line_says_only_what_was_entered(
    client, django_assert_num_queries, centre_manager, application, school, city, country, shown
):
    """A bac entered without its school read « Établissement — (France) »."""
    fill_dossier(application)
    Baccalaureate.objects.filter(candidate=application.candidate).update(school=school, city=city, country=country)
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application), language="fr")

    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))
    assert f"{shown} " in text
    assert "— (" not in text


@pytest.mark.parametrize(("persona", "expected"), READERS, indirect=["persona"])
def test_page_personas(client, persona, application, expected):
    client.force_login(persona)
    assert client.get(change_url(application)).status_code == expected


@pytest.mark.parametrize(("persona", "links"), [("centre_manager", True), ("limited_manager", False)])
def test_where_no_tag_exists_only_who_may_make_one_is_sent_to_make_it(
    client, django_assert_num_queries, request, application, persona, links
):
    """A manager of some commissions uses the centre's tags but leaves making them to the managers of the whole
    centre (TagAdmin): « Créer une étiquette » sent them to a 403."""
    client.force_login(request.getfixturevalue(persona))

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = client.get(change_url(application), language="en").content.decode()

    assert "No tag can be used yet" in html.unescape(page)
    assert (reverse("admin:applications_tag_add") in page) is links


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

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application))

    assert len(response.context["piece_items"]) == count
    assert len(response.context["notes"]) == count
    assert len(response.context["decisions"]) == count


def test_the_decisions_table_agrees_with_avis_in_french(
    client, django_assert_num_queries, centre_manager, application
):
    """ "Avis" is masculine: its column says "Validé", not the "Validée" of a piece."""
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = client.get(change_url(application), language="fr").content.decode()

    assert '<th scope="col">Saisi par</th><th scope="col">Validé</th>' in page


def test_the_current_avis_is_said_at_the_top(client, django_assert_num_queries, commission_member, application):
    """On a phone the Avis table is screens below the identity, the pieces and the history: the summary says the
    latest avis and whether it is validated, with a link down to the table."""
    staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=commission_member)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=commission_member)
    label = application.decisions.order_by("-created_at", "-pk").first().decision_type.label
    client.force_login(commission_member)

    with django_assert_num_queries(
        REVIEW_PAGE_QUERIES + 1
    ):  # a member's page, as before: the avis is read from the table's rows
        page = client.get(change_url(application), language="fr").content.decode()

    summary = page[
        page.index('<p class="review-summary">') : page.index("</p>", page.index('<p class="review-summary">'))
    ]
    assert f'Avis : <a href="#decisions"><strong lang="fr">{label}</strong></a> (à valider)' in summary


# --- pieces -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "expected"), MANAGERS_ACT, indirect=["persona"])
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

    with django_assert_num_queries(14):
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
    assert "Relevé de notes : refusée." in page  # the message, kept in sight by the sticky message list


def test_refuse_with_the_pieces_own_deadline(client, django_assert_num_queries, centre_manager, application):
    submission = with_file(application)
    day = timezone.localdate() + datetime.timedelta(days=10)
    client.force_login(centre_manager)
    form = client.get(change_url(application)).content.decode()
    assert f'<input type="date" name="replace_by" id="piece-{submission.piece_type_id}-replace-by"' in form
    assert f'<label for="piece-{submission.piece_type_id}-replace-by">À remplacer au plus tard le (facultatif' in form

    with django_assert_num_queries(14):
        response = client.post(
            url("piece_check", application, submission.public_id),
            {"status": "RE", "comment": "scan illisible", "replace_by": day.isoformat()},
        )

    submission.refresh_from_db()
    assert (submission.status, submission.replace_by) == (PieceStatus.REFUSED, day)
    page = html.unescape(client.get(response["Location"]).content.decode())
    assert f"Relevé de notes : refusée. À remplacer au plus tard le {day:%d/%m/%Y}." in page
    assert f"scan illisible (à remplacer au plus tard le {day:%d/%m/%Y})" in page  # the history


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("31/02/2027", "la date limite de remplacement n'est pas une date valide"),
        # The service's sentence after the piece's name, in lower case after the colon ("… : La date" before).
        ("2020-01-01", "Relevé de notes : la date limite de remplacement ne peut pas être déjà passée."),
    ],
)
def test_refuse_with_a_bad_deadline_changes_nothing(client, centre_manager, application, value, message):
    submission = with_file(application)
    client.force_login(centre_manager)

    response = client.post(
        url("piece_check", application, submission.public_id),
        {"status": "RE", "comment": "scan illisible", "replace_by": value},
        follow=True,
    )

    assert message in html.unescape(response.content.decode())
    submission.refresh_from_db()
    assert (submission.status, submission.replace_by) == (PieceStatus.SUBMITTED, None)


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("La pièce est validée.", "Relevé : la pièce est validée."),
        ("INE manquant.", "Relevé : INE manquant."),  # a word in capitals stays so
        ("", "Relevé : "),
    ],
)
def test_a_sentence_about_a_piece_goes_on_after_its_name_in_lower_case(message, said):
    with translation.override("fr"):
        assert review_actions._about_piece("Relevé", message) == said


def test_a_status_inside_a_sentence_is_in_lower_case():
    with translation.override("fr"):
        assert review_actions.lower_first(PieceStatus.VALIDATED.label) == "validée"  # "déjà Validée" before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"comment": "", "replace_by": "2099-01-15"}, "comment", "un commentaire est obligatoire pour refuser"),
        ({"comment": "scan illisible", "replace_by": "2020-01-01"}, "replace-by", "ne peut pas être déjà passée"),
    ],
)
def test_a_refused_check_keeps_what_was_typed_with_the_message_next_to_its_field(
    client, django_assert_num_queries, centre_manager, application, data, field, message
):
    """The refusal came back as a message at the top of the page and an empty form: the comment or the date typed
    was lost. The page after the redirect shows them again, the message next to the field, once."""
    submission = with_file(application)
    anchor = f"piece-{submission.piece_type_id}"
    client.force_login(centre_manager)
    response = client.post(url("piece_check", application, submission.public_id), {"status": "RE", **data})
    assert response["Location"].endswith(f"#{anchor}")

    # The kept form is read once: the session is saved again (savepoint, update, release).
    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 3):
        page = html.unescape(client.get(response["Location"]).content.decode())

    assert f'id="{anchor}-comment" maxlength="500" value="{data["comment"]}"' in page
    assert f'value="{data["replace_by"]}"' in page
    error = re.search(rf'<p class="errornote" id="{anchor}-{field}-error">(.*?)</p>', page)
    assert error is not None
    assert message in error.group(1)
    assert f'aria-describedby="{anchor}-{field}-error' in page
    submission.refresh_from_db()
    assert submission.status == PieceStatus.SUBMITTED
    again = html.unescape(client.get(response["Location"]).content.decode())
    assert "errornote" not in again
    assert f'value="{data["replace_by"]}"' not in again


def test_a_second_click_changes_nothing(client, centre_manager, application):
    submission = with_file(application)
    client.force_login(centre_manager)
    target = url("piece_check", application, submission.public_id)

    client.post(target, {"status": "VA"})
    response = client.post(target, {"status": "VA"}, follow=True)

    assert ApplicationEvent.objects.filter(application=application, kind=EventKind.PIECE_STATUS).count() == 1
    assert "Relevé de notes : déjà validée." in response.content.decode()
    # Validated: the page offers "Refuser" only.
    actions = response.context["piece_items"][0].actions
    assert [value for value, _label in actions] == [PieceStatus.REFUSED]


def test_a_refused_piece_asks_for_a_comment_without_saying_it_is_required(
    client, django_assert_num_queries, centre_manager, application
):
    """A refused piece is only offered « Valider », whose comment is optional: its label said « Commentaire
    (obligatoire pour refuser) » above a form that cannot refuse."""
    submitted = with_file(application, label="Relevé de notes")
    refused = with_file(application, label="Pièce refusée", status=PieceStatus.REFUSED)
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application))

    page = response.content.decode()
    labels = dict(re.findall(r'<label for="(piece-\d+)-comment">([^<]*)</label>', page))
    assert labels == {
        f"piece-{submitted.piece_type.pk}": "Commentaire (obligatoire pour refuser)",
        f"piece-{refused.piece_type.pk}": "Commentaire",
    }


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

    with django_assert_num_queries(30):  # per piece: lock, update, history row (a write, one transaction)
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


def test_validate_all_says_a_piece_refused_since_the_page_was_shown(
    client, django_assert_num_queries, centre_manager, commission_member, application
):
    """The page offered two pieces; a colleague refused one since: the other is validated, the refused one stays
    refused, and the page says so (``validate_shown_pieces``' ``refused_meanwhile``)."""
    kept, refused = with_file(application, label="Relevé"), with_file(application, label="Lettre")
    shown = [str(kept.document.public_id), str(refused.document.public_id)]
    set_piece_status(
        submission=refused,
        status=PieceStatus.REFUSED,
        comment="illisible",
        actor=commission_member,
        shown_document=shown[1],
    )
    client.force_login(centre_manager)

    # Session, user, scope, the application and its check; the pieces read and locked; the one validated (lock,
    # update, history row); the pieces read again for the count; savepoints.
    with django_assert_num_queries(18):
        response = client.post(url("validate_pieces", application), {"document": shown})
    page = client.get(response["Location"])

    kept.refresh_from_db()
    refused.refresh_from_db()
    assert (kept.status, refused.status) == (PieceStatus.VALIDATED, PieceStatus.REFUSED)
    html = page.content.decode()
    assert "1 pièce validée." in html
    assert "1 pièce affichée a été refusée entre-temps" in html


@pytest.mark.parametrize(("persona", "expected"), MANAGERS_ACT, indirect=["persona"])
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
    submission = with_file(application)
    name = default_storage.save("C/preview.png", ContentFile(PNG_BYTES))
    submission.document.file = name
    submission.document.content_type = "image/png"
    submission.document.save()
    return submission


PNG_BYTES = hostile_files.png_bytes((64, 48))


@pytest.mark.parametrize(("persona", "expected"), READERS, indirect=["persona"])
def test_preview_personas(client, persona, application, stored_piece, expected):
    client.force_login(persona)
    assert client.get(url("piece_preview", application, stored_piece.public_id)).status_code == expected


def test_preview_is_a_png_we_wrote_sandboxed_and_never_sniffed(
    client, django_assert_num_queries, centre_manager, application, stored_piece
):
    client.force_login(centre_manager)

    with django_assert_num_queries(5):  # outside the request transaction: no savepoint pair
        response = client.get(url("piece_preview", application, stored_piece.public_id))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Security-Policy"].startswith("sandbox;")
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in response["Cache-Control"]
    # Re-encoded by Pillow: the candidate's bytes are not what the browser gets.
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (64, 48))
    page = client.get(change_url(application)).content.decode()
    assert f'<img src="{url("piece_preview", application, stored_piece.public_id)}?page=1"' in page


def _store_pdf(submission, content: bytes, name: str = "piece.pdf"):
    document = submission.document
    document.file = default_storage.save(f"C/{name}", ContentFile(content))
    document.content_type = "application/pdf"
    document.size = len(content)
    document.sha256 = hashlib.sha256(content).hexdigest()
    document.save()
    return submission


def pdf_of_pages(count: int, *, size: tuple[float, float] = (210, 297)) -> bytes:
    pdf = FPDF(unit="mm", format=size)
    pdf.set_font("helvetica", size=20)
    for index in range(count):
        pdf.add_page()
        pdf.cell(text=f"Relevé, page {index + 1}")
    return bytes(pdf.output())


@pytest.fixture(autouse=True)
def _fresh_preview_cache():
    cache.clear()


def test_a_pdf_is_previewed_page_by_page_as_png(client, centre_manager, application):
    submission = _store_pdf(with_file(application), pdf_of_pages(3))
    client.force_login(centre_manager)
    preview = url("piece_preview", application, submission.public_id)

    page = client.get(change_url(application)).content.decode()
    pages = [client.get(f"{preview}?page={number}") for number in (1, 2, 3)]

    for number in (1, 2, 3):
        assert f'<img src="{preview}?page={number}"' in page
        assert f"page {number} sur 3" in page
    assert "Aperçu (3 pages)" in page
    for tag in ("<iframe", "<embed", "<object"):
        assert tag not in page
    for response in pages:
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        assert max(image.size) == preview_module.MAX_SIDE
    assert pages[0].content != pages[1].content
    assert client.get(f"{preview}?page=4").status_code == 404
    assert client.get(f"{preview}?page=0").status_code == 404
    assert client.get(f"{preview}?page=x").status_code == 404


def test_a_huge_page_is_rendered_within_the_pixel_bound(client, centre_manager, application):
    submission = _store_pdf(with_file(application), pdf_of_pages(1, size=(5000, 40)))
    client.force_login(centre_manager)

    response = client.get(url("piece_preview", application, submission.public_id) + "?page=1")

    image = Image.open(io.BytesIO(response.content))
    assert image.size[0] == preview_module.MAX_SIDE
    assert image.size[0] * image.size[1] <= preview_module.MAX_SIDE**2


def test_only_the_first_pages_of_a_long_pdf_are_shown(client, centre_manager, application):
    submission = _store_pdf(with_file(application), pdf_of_pages(preview_module.MAX_PAGES + 2))
    client.force_login(centre_manager)
    preview = url("piece_preview", application, submission.public_id)

    page = client.get(change_url(application)).content.decode()

    assert f"{preview}?page={preview_module.MAX_PAGES}" in page
    assert f"{preview}?page={preview_module.MAX_PAGES + 1}" not in page
    assert f"Seules les {preview_module.MAX_PAGES} premières pages sont affichées" in page
    assert client.get(f"{preview}?page={preview_module.MAX_PAGES + 1}").status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (hostile_files.pdf_with_open_action_javascript(), "ne passe plus les contrôles de dépôt"),
        (hostile_files.pdf_with_launch_action(), "ne passe plus les contrôles de dépôt"),
        (hostile_files.truncated_pdf(), "ne passe plus les contrôles de dépôt"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 50 + b"\n%%EOF\n", "ne passe plus les contrôles de dépôt"),
    ],
    ids=["javascript-open-action", "launch-action", "truncated", "garbage"],
)
def test_a_hostile_or_broken_pdf_gets_a_message_not_an_error(client, centre_manager, application, content, message):
    submission = _store_pdf(with_file(application), content)
    client.force_login(centre_manager)
    preview = url("piece_preview", application, submission.public_id)

    response = client.get(change_url(application))

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert f"Pas d'aperçu : ce PDF {message}" in page
    assert preview not in page
    assert client.get(f"{preview}?page=1").status_code == 404
    # Still downloadable under the antivirus rule, as before: the message is about the preview only.
    assert reverse("pieces:staff_download", args=[submission.public_id]) in page


def test_a_pdf_with_a_broken_xref_is_repaired_or_explained_never_an_error(client, centre_manager, application):
    content = re.sub(rb"startxref\s+\d+", b"startxref\n999999", pdf_of_pages(2))
    submission = _store_pdf(with_file(application), content)
    client.force_login(centre_manager)
    preview = url("piece_preview", application, submission.public_id)

    page = client.get(change_url(application)).content.decode()
    response = client.get(f"{preview}?page=2")

    # pypdf and PDFium both rebuild a lost cross-reference table: the pages are shown.
    assert f'<img src="{preview}?page=2"' in page
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).format == "PNG"


def test_a_pdf_too_costly_to_draw_costs_one_child_then_gets_a_message(
    client, settings, monkeypatch, centre_manager, application
):
    settings.PREVIEW_TIME_LIMIT = 1  # the file asks PDFium for more than 30 s; the child is killed after one
    # The CPU limit, not the wall clock, even on a loaded machine (one run saw the child still going after 5 s).
    monkeypatch.setattr(preview_module, "WALL_CLOCK_PER_CPU_SECOND", 30)
    submission = _store_pdf(with_file(application), hostile_files.pdf_costly_to_draw())
    client.force_login(centre_manager)
    preview = url("piece_preview", application, submission.public_id)
    assert f'<img src="{preview}?page=1"' in client.get(change_url(application)).content.decode()

    assert client.get(f"{preview}?page=1").status_code == 404

    page = html.unescape(client.get(change_url(application)).content.decode())
    assert "Pas d'aperçu : afficher ce PDF demande trop de temps ou de mémoire ; téléchargez-le pour le lire." in page
    assert preview not in page
    assert reverse("pieces:staff_download", args=[submission.public_id]) in page


def test_a_missing_file_gets_a_message(client, centre_manager, application):
    submission = with_file(application)  # its file was never stored
    client.force_login(centre_manager)

    page = html.unescape(client.get(change_url(application)).content.decode())

    assert "Pas d'aperçu : le fichier est absent du stockage." in page
    assert client.get(url("piece_preview", application, submission.public_id)).status_code == 404


@pytest.mark.parametrize("count", [1, 4])
def test_page_with_pdf_previews_keeps_its_query_count(
    client, django_assert_num_queries, centre_manager, application, count
):
    for index in range(count):
        _store_pdf(with_file(application, label=f"Pièce {index}"), pdf_of_pages(2), name=f"p{index}.pdf")
    client.force_login(centre_manager)
    client.get(change_url(application))  # first view: the PDFs are opened once, then their page count is cached

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application))

    assert sum(len(item.preview_pages) for item in response.context["piece_items"]) == 2 * count


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
    assert "1 pièce non validée (Relevé de notes – Transmise)" in refused.content.decode()

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


def test_next_goes_on_from_an_application_that_just_left_the_filtered_list(
    client, django_assert_num_queries, centre_manager, formation, campaign
):
    """A manager works through "Réceptionné": declared Complet, the dossier leaves the list, and "Suivant" goes on to
    the one after it (it used to vanish: back to the list for each dossier)."""
    first, second, third = (make_application(formation, campaign=campaign) for _ in range(3))
    filters = urlencode({"dossier_status__exact": "RE", "o": "-2"})
    ordered = sorted([first, second, third], key=lambda a: a.candidate.user.username, reverse=True)
    ordered[1].dossier_status = DossierStatus.COMPLETE
    ordered[1].save(update_fields=["dossier_status"])
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 1):  # the list's ids once more, this application with them
        response = client.get(change_url(ordered[1]) + "?" + urlencode({"_changelist_filters": filters}))

    nav = response.context["nav"]
    assert nav["position"] == 0
    assert nav["previous_url"] == change_url(ordered[0]) + "?" + urlencode({"_changelist_filters": filters})
    assert nav["next_url"] == change_url(ordered[2]) + "?" + urlencode({"_changelist_filters": filters})
    assert "N’est plus dans la liste filtrée" in response.content.decode()


def test_next_from_outside_a_tag_filter_skips_the_application_however_many_tags_it_has(
    client, centre_manager, formation, campaign
):
    """Widened by OR, the tag filter's join reads the application once per tag it has: it is taken once."""
    first, second, third = (make_application(formation, campaign=campaign) for _ in range(3))
    wanted, other, another = (Tag.objects.create(label=label) for label in ("Entretien", "Autre", "Encore"))
    ordered = sorted([first, second, third], key=lambda a: a.candidate.user.username)
    for application in (ordered[0], ordered[2]):
        review.set_tags(application=application, actor=centre_manager, tags=[wanted])
    review.set_tags(application=ordered[1], actor=centre_manager, tags=[other, another])  # out of the list
    filters = urlencode({"tag": wanted.pk, "o": "2"})
    client.force_login(centre_manager)

    nav = client.get(change_url(ordered[1]) + "?" + urlencode({"_changelist_filters": filters})).context["nav"]

    assert nav["previous_url"] == change_url(ordered[0]) + "?" + urlencode({"_changelist_filters": filters})
    assert nav["next_url"] == change_url(ordered[2]) + "?" + urlencode({"_changelist_filters": filters})


def test_the_two_list_navigations_have_their_own_names(client, django_assert_num_queries, centre_manager, application):
    """Above and below the dossier, the same landmark twice under one name: a screen reader's list of landmarks
    could not tell them apart (RGAA 12.6; axe-core landmark-unique)."""
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(change_url(application))

    labels = re.findall(r'<nav class="review-nav" aria-label="([^"]+)"', response.content.decode())
    assert labels == ["Parcourir la liste", "Parcourir la liste (fin du dossier)"]


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


@pytest.mark.parametrize(("persona", "expected"), MANAGERS_ACT, indirect=["persona"])
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


def test_without_any_tag_the_manager_is_told_where_tags_are_made(
    client, django_assert_num_queries, centre_manager, commission_member, application
):
    """No tag yet (a new campaign, the demo): the dossier said only "Aucune étiquette." and offered nothing, so a
    manager who wanted to tag it did not know where to start."""
    client.force_login(centre_manager)
    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = client.get(change_url(application), language="fr").content.decode()
    client.force_login(commission_member)
    member_page = client.get(change_url(application), language="fr").content.decode()

    assert "est encore utilisable : les étiquettes se créent dans la page « Étiquettes »" in page
    assert f'<a href="{reverse("admin:applications_tag_add")}">Créer une étiquette</a>' in page
    assert "Créer une étiquette" not in member_page  # tags are the managers' (a member cannot set them)


def test_tags_saved_says_its_counts_with_their_plural(client, centre_manager, application):
    first, second = Tag.objects.create(label="Prioritaire"), Tag.objects.create(label="Entretien")
    client.force_login(centre_manager)

    both = client.post(url("tags", application), {"tags": [first.pk, second.pk]}, follow=True)
    swapped = client.post(url("tags", application), {"tags": [first.pk]}, follow=True)

    assert "Étiquettes enregistrées (2 ajoutées, 0 retirée)." in both.content.decode()  # "ajoutée(s)" before
    assert "Étiquettes enregistrées (0 ajoutée, 1 retirée)." in swapped.content.decode()


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


@pytest.mark.parametrize(("persona", "expected"), READERS, indirect=["persona"])
def test_candidates_dossier_admin_is_readable_by_staff_in_scope(client, persona, application, expected):
    """The "Candidats" page no longer answers 403 to the staff who must read the dossier; the central office and the
    candidate's centre managers change it (applications/tests/test_staff_dossier_edit.py)."""
    fill_dossier(application)
    client.force_login(persona)

    response = client.get(reverse("admin:applications_candidate_change", args=[application.candidate.pk]))

    assert response.status_code == expected
    if expected == 200 and persona.username != "scolarite":
        assert "Lycée Camille Jullian" in response.content.decode()
        assert response.context["has_change_permission"] is (persona.username == "gestionnaire")


def test_decision_buttons_only_while_the_latest_decision_waits(client, centre_manager, application):
    """ "Valider les avis" and "Supprimer le dernier avis" act on the latest decision while it is not validated:
    without one, or once it is validated, the page does not offer them."""
    client.force_login(centre_manager)
    labels = ("Valider les avis", "Supprimer le dernier avis (non validé)")

    def offered():
        page = client.get(change_url(application)).content.decode()
        return [label in html.unescape(page) for label in labels]

    assert offered() == [False, False]
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    assert offered() == [True, True]
    staff.validate_decision(decision, actor=centre_manager)
    assert offered() == [False, False]


# --- the candidate's answer and the OPI -----------------------------------------------------------------------


def _validated_favourable(application, actor):
    decision = staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=actor)
    staff.validate_decision(decision, actor=actor)


def _operation_names(response) -> set[str]:
    return {operation.name for operation, _url in response.context["operations"]}


def test_answer_buttons_follow_the_decision_and_the_answer(client, centre_manager, application):
    client.force_login(centre_manager)
    before = _operation_names(client.get(change_url(application)))
    _validated_favourable(application, centre_manager)
    favourable = _operation_names(client.get(change_url(application)))
    Application.objects.filter(pk=application.pk).update(accepted=True, answered_at=timezone.now())
    confirmed = _operation_names(client.get(change_url(application)))
    Application.objects.filter(pk=application.pk).update(accepted=False, answered_at=timezone.now())
    withdrawn = _operation_names(client.get(change_url(application)))

    assert {"confirm_on_behalf", "withdraw_on_behalf"} & before == set()
    assert {"confirm_on_behalf", "withdraw_on_behalf"} <= favourable
    assert ("confirm_on_behalf" in confirmed, "withdraw_on_behalf" in confirmed) == (False, True)
    assert {"confirm_on_behalf", "withdraw_on_behalf"} & withdrawn == set()


def test_the_letter_and_reminder_buttons_are_offered_only_where_they_can_work(
    client, django_assert_num_queries, centre_manager, application
):
    """ "Régénérer la lettre de décision" was offered before any validated decision, and "Relancer les formulaires
    non répondus" on a formation without a form: both ended on a refusal. The page reads what it already has."""
    client.force_login(centre_manager)
    client.get(change_url(application))

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        before = _operation_names(client.get(change_url(application)))
    staff.record_decision(application, decision_type=decision_type(Avis.WAITING_LIST), actor=centre_manager, rank=1)
    staff.validate_decision(application.decisions.current(), actor=centre_manager)
    waiting_list = _operation_names(client.get(change_url(application)))
    _validated_favourable(application, centre_manager)
    favourable = _operation_names(client.get(change_url(application)))

    assert {"regenerate_letter", "remind_forms"} & before == set()
    assert "regenerate_letter" not in waiting_list  # no letter for a waiting list
    assert "regenerate_letter" in favourable
    assert "remind_forms" not in favourable


def test_a_refusal_on_one_application_is_said_in_french_above_its_form(client, centre_manager, application):
    client.force_login(centre_manager)

    response = client.post(operation_url(application, "regenerate_letter"), {}, language="fr")

    assert response.status_code == 200  # the operation's page again, not the dossier with a flash message
    assert response.context["form"].non_field_errors() == [
        "Seul un avis favorable ou défavorable validé a une lettre."
    ]


def test_the_central_office_reads_the_opi_state_on_the_page(
    client, central_manager, centre_manager, application, django_assert_num_queries
):
    _crowd(application, central_manager, 1)
    passed = timezone.make_aware(datetime.datetime(2026, 7, 3, 22, 50))
    Opi.objects.create(application=application, code="ECAB123456", state="passed", passed_at=passed)
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_PAGE_CENTRAL):
        response = client.get(change_url(application))
    client.force_login(centre_manager)
    manager = client.get(change_url(application)).content.decode()

    page = response.content.decode()
    assert "OPI ECAB123456</a> : <strong>déversée</strong> le 03/07/2026" in page
    assert "ECAB123456" not in manager  # the OPI are the central office's


QUERIES_PAGE_CENTRAL = REVIEW_PAGE_QUERIES + 1  # the OPI, read for the central office only


@pytest.mark.parametrize(
    ("state", "passed", "expected"),
    [
        ("pending", True, "<strong>en attente</strong> (désistement à transmettre)"),
        ("passed", True, "<strong>déversée</strong> le 03/07/2026 (désistement transmis)"),
        (
            "pegase",
            True,
            (
                "<strong>déversée</strong> le 03/07/2026 "
                "(désistement : absent des fichiers suivants, Pégase n'en est pas informé)"
            ),
        ),
        ("cancelled", False, "<strong>annulée</strong>"),
        ("to_do", True, "<strong>déversée</strong> le 03/07/2026 (désistement : à supprimer à la main dans Pégase)"),
        ("done", True, "<strong>déversée</strong> le 03/07/2026 (désistement : supprimé dans Pégase)"),
    ],
)
def test_the_page_says_whether_a_withdrawal_is_still_to_pass_on(
    client, central_manager, application, django_assert_num_queries, state, passed, expected
):
    """A withdrawal after confirmation is "à transmettre" only while its OPI waits for the next transfer. Once the
    transfer carried it, the page said "déversée le … (désistement à transmettre)" for ever; a withdrawal made
    before any transfer cancels the OPI, and the page said "annulée (désistement à transmettre)" though nothing
    would ever be sent. Pégase gets no withdrawal (the wish is only left out of the later files): the page says so
    rather than "transmis", and whether the wish an earlier day's file carried was removed there by hand yet. A
    re-queued OPI no longer shows its previous transfer's date as if pending since."""
    _crowd(application, central_manager, 1)
    transferred = timezone.make_aware(datetime.datetime(2026, 7, 3, 22, 50))
    Opi.objects.create(
        application=application,
        code="ECAB123456",
        state="passed" if state in {"pegase", "to_do", "done"} else state,
        backend="pegase" if state in {"pegase", "to_do", "done"} else "apogee",
        pegase_removal=state if state in {"to_do", "done"} else "",  # a wish an earlier day's Pégase file carried
        withdrawn=True,
        passed_at=transferred if passed else None,
    )
    client.force_login(central_manager)

    with django_assert_num_queries(QUERIES_PAGE_CENTRAL):
        response = client.get(change_url(application))

    page = response.content.decode()
    assert f"OPI ECAB123456</a> : {expected}" in page
    if state != "pending":
        assert "désistement à transmettre" not in page
    else:
        assert "03/07/2026" not in page.split("OPI ECAB123456")[1].split("</p>")[0]


def test_a_long_piece_label_is_shortened_with_an_ellipsis_in_the_history(centre_manager):
    """The history names a piece by its label, cut at 80 characters with "…", never mid-word without a sign (the
    demo's "Attestation de langue … pour les candidats étrangers origin" read as a typo)."""
    label = "Attestation de langue française de niveau B2 pour les candidats étrangers originaires de pays tiers"
    event = ApplicationEvent(kind=EventKind.PIECE_UPLOADED, comment="ATTLANG", actor=centre_manager)

    with translation.override("fr"):
        text = history_line(event, {"ATTLANG": label}).text

    shortened = "Attestation de langue française de niveau B2 pour les candidats étrangers origi…"
    assert f'« <span lang="fr">{shortened}</span> »' in text
    assert len(shortened) == 80


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", 'Piece refused “<span lang="fr">Relevés de notes du bac</span>” by {actor}: {comment}'),
        ("fr", 'Pièce refusée « <span lang="fr">Relevés de notes du bac</span> » par {actor} : {comment}'),
    ],
)
def test_the_history_uses_the_readers_typography(centre_manager, language, expected):
    """A history line is built in the reader's language, its punctuation too: an English reader got the French
    « » around the piece and a space before the colon ("by gestionnaire.see : Scan illisible")."""
    event = ApplicationEvent(
        kind=EventKind.PIECE_STATUS,
        to_status=PieceStatus.REFUSED,
        comment="RNBAC: Scan illisible",
        actor=centre_manager,
    )

    with translation.override(language):
        text = history_line(event, {"RNBAC": "Relevés de notes du bac"}).text

    # The comment is the staff's French (RGAA 8.7).
    assert text == expected.format(
        actor=centre_manager.get_username(), comment='<span lang="fr">Scan illisible</span>'
    )


# --- numbers that are not ASCII digits ----------------------------------------------------------------------------

# "²" is a digit to str.isdigit() but not to int(); twenty digits overflow the database's integer.
NOT_NUMBERS = ["²", "٣", "99999999999999999999999"]


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("parameter", ["centre", "formation", "tag"])
def test_a_list_filter_given_a_number_it_cannot_read_is_ignored(client, centre_manager, application, parameter, value):
    Tag.objects.create(label="Prioritaire")  # the tag filter is offered once a tag exists
    client.force_login(centre_manager)

    response = client.get(reverse("admin:applications_application_changelist"), {parameter: value})

    # A filter Django's list does not know sends back with ?e=1; twenty digits named like a foreign key (formation)
    # are refused with a 400 before the filter reads them (ecandidat.admin_base.runnable_lookup): never a 500.
    assert response.status_code in (200, 302, 400)


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_tags_or_a_preview_page_given_a_number_it_cannot_read_is_refused(
    client, centre_manager, application, stored_piece, value
):
    client.force_login(centre_manager)

    tags = client.post(url("tags", application), {"tags": [value]}, follow=True)
    preview = client.get(url("piece_preview", application, stored_piece.public_id), {"page": value})

    assert tags.status_code == 200  # back on the application's page: nothing to tag with
    assert not application.tag_links.exists()
    assert preview.status_code == 404
