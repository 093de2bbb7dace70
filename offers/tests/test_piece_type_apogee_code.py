"""A piece type's Apogée code (COD_TPJ, eCandidat cod_apo_pj): edited in the piece type's page, with its help; it
names the file sent with the OPI (PJ-OPI, docs/opi-apogee.md), so it takes letters, digits, "-" and "_" only."""

import pytest
from django.urls import reverse

from offers.tests.factories import PieceTypeFactory


def _posted(piece, **changes) -> dict:
    data = {
        "code": piece.code,
        "label": piece.label,
        "is_common": "on",
        "treatment_type": piece.treatment_type,
        "order": piece.order,
        "in_service": "on",
    }
    return {key: value for key, value in {**data, **changes}.items() if value not in ("", None)}


def test_the_piece_types_page_edits_its_apogee_code_with_its_help(admin_client, django_assert_num_queries):
    piece = PieceTypeFactory(is_common=True)
    url = reverse("admin:offers_piecetype_change", args=[piece.pk])

    with django_assert_num_queries(8):
        page = admin_client.get(url, language="fr").text
    saved = admin_client.post(url, _posted(piece, siscol_code="CNI"))

    assert "Code de type de pièce dans Apogée" in page
    assert "Type de pièce justificative d'Apogée (COD_TPJ). Renseigné, et le paramètre « Envoyer les pièces" in page
    assert saved.status_code == 302
    piece.refresh_from_db()
    assert piece.siscol_code == "CNI"


@pytest.mark.parametrize("code", ["../CNI", "C N I", "CNI/2"])
def test_a_code_that_would_not_name_a_file_is_refused(admin_client, code):
    piece = PieceTypeFactory(is_common=True, siscol_code="CNI")

    response = admin_client.post(
        reverse("admin:offers_piecetype_change", args=[piece.pk]), _posted(piece, siscol_code=code), language="fr"
    )

    assert response.status_code == 200
    assert "Lettres, chiffres, « - » et « _ » uniquement." in response.text
    piece.refresh_from_db()
    assert piece.siscol_code == "CNI"
