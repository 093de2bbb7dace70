"""The change lists' cells labelled for the phone's cards (ecandidat.templatetags.result_cards): each cell takes its
role and its column's name, escaped; the selection box's column and a cell beyond the headers take no name."""

from types import SimpleNamespace

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from ecandidat.templatetags.result_cards import labelled_cell, labelled_cells

CHECKBOX_HEADER = {"text": mark_safe('<input type="checkbox" id="action-toggle">'), "class_attrib": ""}


def test_each_cell_takes_its_role_and_its_columns_name():
    headers = [CHECKBOX_HEADER, {"text": "nom"}, {"text": "statut du dossier"}]
    cells = [
        mark_safe('<td class="action-checkbox"><input type="checkbox" class="action-select"></td>'),
        format_html('<th class="field-candidate_name"><a href="{}">{}</a></th>', "/gestion/1/", "DUPONT"),
        format_html('<td class="field-dossier_status">{}</td>', "Réceptionné"),
    ]

    row = labelled_cells(cells, headers)

    assert isinstance(row, SafeString)
    assert row == (
        '<td role="cell" class="action-checkbox"><input type="checkbox" class="action-select"></td>'
        '<th role="rowheader" data-label="Nom" class="field-candidate_name"><a href="/gestion/1/">DUPONT</a></th>'
        '<td role="cell" data-label="Statut du dossier" class="field-dossier_status">Réceptionné</td>'
    )


def test_a_columns_name_is_escaped_and_a_cell_beyond_the_headers_has_none():
    headers = [{"text": 'Note "finale" <b>&</b>'}]
    cells = [mark_safe("<td>12</td>"), mark_safe('<td><input type="hidden" name="form-0-id"></td>')]

    assert labelled_cells(cells, headers) == (
        '<td role="cell" data-label="Note &quot;finale&quot; &amp;">12</td>'
        '<td role="cell"><input type="hidden" name="form-0-id"></td>'
    )


def test_a_cell_of_another_shape_is_unchanged():
    assert labelled_cell("<tr><td>1</td></tr>", {"text": "x"}) == "<tr><td>1</td></tr>"


def test_the_cells_of_a_french_column_are_marked_french():
    """A column its ModelAdmin names in ``french_columns`` (the staff's French labels) has its cells ``lang="fr"``;
    the others, and a list whose ModelAdmin names none, are unchanged."""
    admin_with_french = SimpleNamespace(french_columns=["title"])
    changelist = SimpleNamespace(model_admin=admin_with_french, list_display=["action_checkbox", "code", "title"])
    headers = [CHECKBOX_HEADER, {"text": "code"}, {"text": "titre"}]
    cells = [
        mark_safe('<td class="action-checkbox"><input type="checkbox" class="action-select"></td>'),
        format_html('<th class="field-code"><a href="{}">{}</a></th>', "/gestion/1/", "M1ENER"),
        format_html('<td class="field-title">{}</td>', "Master Énergie"),
    ]

    assert labelled_cells(cells, headers, changelist) == (
        '<td role="cell" class="action-checkbox"><input type="checkbox" class="action-select"></td>'
        '<th role="rowheader" data-label="Code" class="field-code"><a href="/gestion/1/">M1ENER</a></th>'
        '<td role="cell" data-label="Titre" lang="fr" class="field-title">Master Énergie</td>'
    )
    plain = SimpleNamespace(model_admin=object(), list_display=changelist.list_display)
    assert 'lang="fr"' not in labelled_cells(cells, headers, plain)
