"""A piece's own history (Django's « Historique » of a piece type, and the similar rows) and Django's messages name the
object by its whole label: they cut it at 80 characters, the length made for the list of pieces. Django's history
keeps 200 characters (``LogEntry.object_repr``): a longer label is cut there with « … », not mid-word by Django."""

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.urls import reverse

from ecandidat.models import FaqEntry
from offers.models import PieceType
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db

LONG = (
    "Attestation de langue française de niveau B2 pour les candidats étrangers originaires de pays tiers, "
    "délivrée depuis moins de deux ans"
)  # 134 characters: more than the list's 80, less than the history's 200
TOO_LONG = "Justificatif " + "très " * 50 + "long"  # 267 characters


def _posted(piece: PieceType, **changes) -> dict:
    data = {
        "code": piece.code,
        "label": piece.label,
        "label_en": piece.label_en,
        "centre": "",
        "is_common": "on",
        "is_unique": "on" if piece.is_unique else "",
        "treatment_type": piece.treatment_type,
        "order": piece.order,
        "in_service": "on",
    }
    return {key: value for key, value in {**data, **changes}.items() if value != ""}


@pytest.mark.parametrize(
    ("language", "title", "changed"),
    [
        ("fr", f"Historique des changements : {LONG}", "Modification de « Ordre »."),
        ("en", f"Change history: {LONG}", "Changed “Order”."),
    ],
)
def test_the_history_of_a_piece_names_it_whole(admin_client, django_assert_num_queries, language, title, changed):
    piece = PieceTypeFactory(label=LONG, is_common=True)
    url = reverse("admin:offers_piecetype_change", args=[piece.pk])
    saved = admin_client.post(url, _posted(piece, order=3), language=language)
    assert saved.status_code == 302

    with django_assert_num_queries(8):
        history = admin_client.get(reverse("admin:offers_piecetype_history", args=[piece.pk]), language=language)

    assert LogEntry.objects.get(action_flag=CHANGE).object_repr == LONG
    page = history.text.replace("\N{NO-BREAK SPACE}", " ")
    assert f"<h1>{title}</h1>" in page
    assert changed in page


@pytest.mark.parametrize(
    ("language", "done"),
    [
        ("fr", f"L’objet pièce justificative « {LONG} » a été supprimé avec succès."),
        ("en", f"The piece type “{LONG}” was deleted successfully."),
    ],
)
def test_deleting_a_piece_names_it_whole(admin_client, language, done):
    piece = PieceTypeFactory(label=LONG, is_common=True)

    deleted = admin_client.post(
        reverse("admin:offers_piecetype_delete", args=[piece.pk]), {"post": "yes"}, language=language, follow=True
    )
    home = admin_client.get(reverse("admin:index"), language=language).text

    assert done in deleted.text.replace("\N{NO-BREAK SPACE}", " ")
    assert LogEntry.objects.get(action_flag=DELETION).object_repr == LONG
    assert f"{LONG}<br>" in home  # « Mes dernières modifications : paramétrage, dossiers et comptes »


def test_a_name_longer_than_the_history_keeps_is_cut_with_an_ellipsis(admin_client):
    piece = PieceTypeFactory(label=TOO_LONG, is_common=True)

    admin_client.post(reverse("admin:offers_piecetype_delete", args=[piece.pk]), {"post": "yes"})

    logged = LogEntry.objects.get(action_flag=DELETION).object_repr
    assert len(logged) == 200
    assert logged == TOO_LONG[:199] + "…"


def test_the_list_of_pieces_still_cuts_a_long_label(admin_client):
    PieceTypeFactory(label=LONG, is_common=True)

    page = admin_client.get(reverse("admin:offers_piecetype_changelist")).text

    assert f'class="field-short_label">{LONG[:79]}…</td>' in page


def test_the_other_long_names_are_cut_with_an_ellipsis_only_past_200_characters():
    long_title = "Master " + "mention " * 30 + "fin"  # 250 characters (a title holds 255)
    formation = FormationFactory(title=long_title)
    entry = FaqEntry(question_fr="Comment " + "vraiment " * 33 + "?")  # 307 characters (300 allowed)

    assert str(formation) == long_title[:199] + "…"
    assert str(entry).endswith("…")
    assert len(str(entry)) == 200
    assert str(FormationFactory(title="Master Énergie")) == "Master Énergie"
