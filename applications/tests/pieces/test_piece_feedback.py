"""Issue 13: the result of an action on a piece is shown in that piece's row (and the page opens at that row), not
at the top of the page, out of view on a phone."""

import re

from django.urls import reverse

from applications.tests.helpers import post_file
from documents.tests import hostile_files as hostile


def _row(html: str, piece) -> str:
    match = re.search(rf'<tr role="row" id="piece-{piece.pk}".*?</tr>', html, re.S)
    assert match, f"no row for piece {piece.pk}"
    return match.group(0)


def test_refusal_is_shown_in_the_pieces_row_and_the_page_opens_there(owner, application, piece):
    response = post_file(owner, application, piece, hostile.over_max_pdf_upload())

    assert response["Location"] == reverse("applications:detail", args=[application.public_id]) + f"#piece-{piece.pk}"
    html = owner.get(response["Location"]).content.decode()
    row = _row(html, piece)
    assert 'role="status" aria-live="polite"' in row
    assert "Lettre de motivation: " in row
    assert "exceeds the maximum allowed size" in row
    above_the_table = html.split("<main")[1].split('<section id="pieces"')[0]
    assert "exceeds the maximum allowed size" not in above_the_table


def test_accepted_file_is_announced_in_its_row(owner, application, piece):
    response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    row = _row(owner.get(response["Location"]).content.decode(), piece)
    assert "Lettre de motivation: file received." in row


def test_a_long_label_is_cut_with_an_ellipsis_in_the_message(owner, application, piece, django_assert_num_queries):
    piece.label = (
        "Lettre(s) de recommandation transmises directement par mail de l'enseignant à l'enseignant responsable "
        "(téléchargez avec Adobe Acrobat Reader, complétez en ligne, enregistrez puis redéposez le fichier)"
    )
    piece.save()
    url = reverse("pieces:upload", args=[application.public_id, piece.pk])

    # session, user, application, piece type; then the session save (savepoint, update, release)
    with django_assert_num_queries(4):
        response = owner.post(url, {})  # no file: the refusal names the piece

    row = _row(owner.get(response["Location"]).content.decode(), piece)
    [status] = re.findall(rf'id="piece-status-{piece.pk}"[^>]*>(.*?)</div>', row, re.S)
    assert "(téléchargez ave…: " in status  # 120 characters, the ellipsis included
    assert "redéposez" not in status


def test_upload_script_gets_the_rows_address(owner, application, piece, django_assert_num_queries):
    url = reverse("pieces:upload", args=[application.public_id, piece.pk])

    # session, user, application, piece type; then the session save (savepoint, update, release)
    with django_assert_num_queries(4):
        response = owner.post(url, {}, HTTP_X_UPLOAD_PROGRESS="1")

    assert response.json() == {
        "location": reverse("applications:detail", args=[application.public_id]) + f"#piece-{piece.pk}"
    }


def test_removing_a_file_asks_first_naming_the_file_and_the_piece(
    owner, application, piece, django_assert_num_queries
):
    """ "-" sits next to other buttons on a phone: upload.js asks the question the form carries (without JavaScript
    the form posts at once, as the guide describes)."""
    response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    # session, user, application, piece types, submissions, then the forms and questions asked (cold caches)
    with django_assert_num_queries(7):
        html = owner.get(response["Location"]).content.decode()

    row = _row(html, piece)
    assert (
        'data-confirm="Remove the file “releve-de-notes.pdf” from “Lettre de motivation”? To put it back, you will '
        'have to send it again."'
    ) in row
    assert reverse("pieces:remove", args=[application.public_id, piece.pk]) in row
    assert "js/upload.js" in html


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def test_a_refused_upload_says_error_in_the_title_of_the_page_it_comes_back_to(
    owner, application, piece, django_assert_num_queries
):
    """RGAA 11.10: the recap the refusal comes back to says « Erreur : » in its title, as a form in error does; the
    message alone, in the piece's row, is not heard when the page opens. Found by review (screen reader users)."""
    response = post_file(owner, application, piece, hostile.upload("notes.txt", b"plain text"))

    # session, user, application, piece types, submissions, then the forms and questions asked (as an accepted file's)
    with django_assert_num_queries(7):
        html = owner.get(response["Location"]).content.decode()

    assert "Lettre de motivation: File format not accepted" in _row(html, piece)
    assert _title(html).startswith("Error: ")
    # The message was shown: the next page has neither it nor the prefix.
    assert not _title(owner.get(response["Location"]).content.decode()).startswith("Error")


def test_an_accepted_upload_leaves_the_title_as_it_is(owner, application, piece):
    response = post_file(owner, application, piece, hostile.valid_pdf_upload())

    html = owner.get(response["Location"]).content.decode()
    assert "file received" in _row(html, piece)
    assert not _title(html).startswith("Error")
