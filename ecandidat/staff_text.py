"""Texts the staff write for candidates in French, with an optional English version (a piece's label, a question, a
form's label, a decision's label): which one a page shows, and in which language, so that the page marks it
(``lang``, RGAA criterion 8.7). An empty English version shows the French text, marked French."""

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString


@dataclass(frozen=True, slots=True)
class StaffText:
    text: str
    lang: str  # "fr" or "en": the language the text is written in, for the page's ``lang`` attribute

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)

    @property
    def marked(self) -> SafeString:
        """The text escaped inside a ``<span>`` carrying its language, for a sentence of the page that quotes it
        (``{% blocktranslate with title=formation.shown_title.marked %}``), as the include
        ``applications/includes/staff_text.html`` marks a text standing alone."""
        return format_html('<span lang="{}">{}</span>', self.lang, self.text)


def shown(french: str, english: str = "", *, language: str | None = None) -> StaffText:
    """The English version when the page (or mail) is in English and there is one, else the French text."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    if english and language.startswith("en"):
        return StaffText(english, "en")
    return StaffText(french, "fr")


def _shown_text(french: str, english: str) -> str:
    return shown(french, english).text


_shown_lazily = lazy(_shown_text, str)


def shown_in_mail(french: str, english: str = "") -> str:
    """The same choice, made when the mail is rendered, in the mail's language (``ecandidat.emails`` renders inside
    ``translation.override(language)``), not in the language of the request that builds the mail's context."""
    return _shown_lazily(french, english)


class StaffTextSelect(forms.Select):
    """A list whose options are staff texts (``StaffText`` labels, e.g. the diplomas of another cursus): an option
    written in another language than the page's carries its ``lang`` (RGAA 8.7), a French label left untranslated
    in an English page ``lang="fr"``. On a French page the French options need none, the page already is."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        lang = getattr(label, "lang", "")
        page = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
        if lang and lang != page:
            option["attrs"]["lang"] = lang
        return option
