"""English text that names the application's own labels in French (h23's audit of the two languages).

An English msgid that quotes a label in French ("turns them on in Paramètres", "the status is set to Réceptionné",
"“Transmettre ma candidature” stays inactive") reads right in French and wrong in English, where the page, the
status and the button are called "Parameters", "Received" and "Transmit my application". Such a text takes the label
through its own msgid instead (a `{button}` or `%(page)s` field filled with the label's gettext), so each
language names it as its reader sees it."""

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from applications.notifications import NOTIFICATIONS

# French names kept on purpose inside English text: those of the original eCandidat, which the English text cites as
# the name the institution's staff know from it, not as a label of this application.
CITED_FROM_ECANDIDAT = {"Informations complémentaires"}


def _french_catalogue() -> list[tuple[str, str]]:
    """(msgid, French msgstr) of every singular entry the French catalogue translates, contexts stripped."""
    pairs = []
    for msgid, msgstr in trans_real.translation("fr")._catalog.items():
        if isinstance(msgid, str) and isinstance(msgstr, str) and msgid:
            pairs.append((msgid.split("\x04")[-1], msgstr))
    return pairs


def _french_labels(pairs: list[tuple[str, str]]) -> set[str]:
    """The French of short labels (a button, a status, a menu entry) that are French only in translation: one with
    an accent or of several words, whose msgid is English."""
    return {
        msgstr
        for msgid, msgstr in pairs
        if 6 <= len(msgstr) <= 45
        and msgstr.lower() != msgid.lower()
        and not re.search(r"[%{]", msgstr)
        and re.search(r"[éèêàçùûôîœ]|\s", msgstr)
    }


def test_no_english_text_names_a_label_in_french():
    pairs = _french_catalogue()
    labels = _french_labels(pairs) - CITED_FROM_ECANDIDAT
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, sorted(labels, key=len, reverse=True))) + r")(?!\w)")

    offenders = sorted({f"{match.group(1)!r} in {msgid!r}" for msgid, _ in pairs for match in pattern.finditer(msgid)})

    assert offenders == []


# French terms of the French school administration that an English text translates like any other word (h50's scan
# of the English pages): the English pages say "dossier number", "personal details", "registration regime", "fee
# exemption category" and "student office". Product names (Apogée, Pégase) and a school year (première) are kept.
FRENCH_TERMS = ("numéro de dossier", "numéros de dossier", "état civil", "situation des droits", "régime", "scolarité")


def test_no_english_text_uses_a_french_term_or_french_quotes():
    # A French word inside ``<span lang="fr">`` is marked as such for the reader's screen reader (RGAA 8.7): allowed.
    unmarked = [(msgid, re.sub(r'<span lang="fr">.*?</span>', "", msgid)) for msgid, _ in _french_catalogue()]

    offenders = sorted(
        msgid
        for msgid, text in unmarked
        if "«" in text or "»" in text or any(term in text.lower() for term in FRENCH_TERMS)
    )

    assert offenders == []


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "the candidate transmits the application, or the status is set to Received",
                "staff set the processing type to “Controlled access”",
                "staff click “Remind the unanswered forms”",
            ],
        ),
        (
            "fr",
            [
                "le candidat transmet sa candidature, ou le statut du dossier passe à Réceptionné",
                "un gestionnaire passe le type de traitement à « Accès contrôlé »",
                "un gestionnaire clique sur « Relancer les formulaires non répondus »",
            ],
        ),
    ],
)
def test_mail_codes_say_when_they_are_sent_with_the_readers_labels(language, expected):
    codes = {"STATUT_RE": 0, "TYPE_TRAIT_AC": 1, "CANDIDATURE_RELANCE_FORMULAIRE": 2}
    with translation.override(language):
        sent_when = {n.code: str(n.sent_when) for n in NOTIFICATIONS if n.code in codes}

    assert [sent_when[code] for code in codes] == expected


@pytest.mark.django_db
def test_the_parameters_page_in_english_names_the_candidates_button_and_the_menu_in_english(
    client, central_manager, django_assert_num_queries
):
    """The central office reading the back office in English read "“Transmettre ma candidature” stays inactive" and
    "kept in Offre de formation › Types de formation" next to an English menu."""
    client.force_login(central_manager)
    client.cookies["django_language"] = "en"

    with django_assert_num_queries(9):  # as ecandidat/tests/test_parameters_page.py's QUERIES_PAGE
        response = client.get(reverse("admin:ecandidat_parameteroverride_changelist"))

    page = response.content.decode()
    assert "Yes: “Transmit my application” stays inactive" in page
    assert "declared “Not concerned”" in page
    assert "Yes: “Enter a decision” on a selection" in page
    assert "The formation types are kept in Training offer › Formation types." in page
    assert "Per candidate, in each application centre" in page
    for french in ("Transmettre ma candidature", "Non concerné", "Saisir un avis", "Offre de formation", "centre de"):
        assert french not in page


@pytest.mark.django_db
@pytest.mark.usefixtures("back_office_in_french")
def test_the_parameters_page_in_french_is_unchanged(client, central_manager, django_assert_num_queries):
    client.force_login(central_manager)

    with django_assert_num_queries(9):
        response = client.get(reverse("admin:ecandidat_parameteroverride_changelist"))

    page = response.content.decode()
    assert "Oui : « Transmettre ma candidature » reste inactif" in page
    assert "ni déclaré « Non concerné »" in page
    assert "Oui : « Saisir un avis » sur une sélection" in page
    assert "Les types de formation se gèrent dans Offre de formation › Types de formation." in page
    assert "Par candidat, dans chaque centre de candidature" in page


@pytest.mark.django_db
@pytest.mark.usefixtures("back_office_in_french")
def test_the_back_office_has_the_language_switch_and_it_keeps_the_page(
    client, central_manager, django_assert_num_queries
):
    """Staff could read the back office in English only by switching on the candidates' pages first."""
    client.force_login(central_manager)
    page_url = reverse("admin:ecandidat_parameteroverride_changelist") + "?o=1"

    with django_assert_num_queries(9):  # as above: the switch costs no query
        page = client.get(page_url).content.decode()
    with django_assert_num_queries(4):  # Django's set_language: the session, the user, the request's savepoint (2)
        switched = client.post(reverse("set_language"), {"language": "en", "next": page_url})
    english = client.get(page_url).content.decode()

    assert '<form action="/i18n/setlang/" method="post" class="lang-switch">' in page
    assert f'<input type="hidden" name="next" value="{page_url}">' in page
    assert '<option value="en" lang="en" >English</option>' in page
    assert '<option value="fr" lang="fr" selected>Français</option>' in page
    assert (switched.status_code, switched["Location"], switched.cookies["django_language"].value) == (
        302,
        page_url,
        "en",
    )
    assert '<html lang="en"' in english
    assert '<option value="en" lang="en" selected>English</option>' in english


@pytest.mark.django_db
@pytest.mark.usefixtures("back_office_in_french")
def test_the_letter_variables_follow_french_typography(client, central_manager, django_assert_num_queries):
    """French puts a space before the colon ("Label : message"), English does not: the list of a letter's variables
    was joined with ": " in both."""
    client.force_login(central_manager)

    # the back office's add form as it was before this change: the colon costs no query
    with django_assert_num_queries(10):
        page = client.get(reverse("admin:offers_decisionlettertemplate_add")).content.decode()

    assert "lettre d&#x27;admission : ${institution_name}" in page
    assert "lettre de refus : ${institution_name}" in page
