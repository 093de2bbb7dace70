"""The variables of the decision letters (issue 12): the same ``${name}`` syntax and checks as the mail texts
(``ecandidat.mail_templates``), on the letters' own variables. Not registered as notifications: letters are not
mails (``LetterType``: a problem in a text is told as a letter's); ``offers.DecisionLetterTemplate`` checks its texts
against these. :func:`render_letter_pdf` draws a letter from a text and its values: ``applications.letters`` with an
application's values, the text's admin (« Prévisualiser (PDF) ») with :func:`sample_values`."""

import io
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from PIL import Image

from ecandidat.downloads import storage_errors
from ecandidat.mail_templates import LetterType, render_source, values_for
from ecandidat.notifications import INSTITUTION_NAME, Variable
from ecandidat.pdf import FONT, UnicodePDF

if TYPE_CHECKING:
    from offers.models import DecisionLetterTemplate

logger = logging.getLogger(__name__)

_COMMON = (
    INSTITUTION_NAME,
    Variable("site_url", _("address of eCandidat"), "https://ecandidat.univ.example"),
    Variable("first_name", _("first name of the candidate"), "Estelle"),
    Variable("last_name", _("last name of the candidate"), "Martin"),
    Variable("numero_dossier", _("dossier number (the candidate's login)"), "K7M2P9QX"),
    Variable("birth_date", _("date of birth of the candidate"), "03/02/2001"),
    Variable("formation_code", _("code of the formation"), "MINFO"),
    Variable("formation_title", _("title of the formation"), "Master Informatique"),
    Variable("centre_label", _("name of the centre"), "UFR Sciences Exactes et Expérimentales"),
    Variable("decision_label", _("label of the decision"), "Avis favorable"),
    Variable("decision_comment", _("comment on the decision, when shown to the candidate"), "Bienvenue !"),
    Variable("letter_date", _("date of the letter"), "03/07/2026"),
)


def _no_context(subject: object) -> dict[str, object]:
    return {}


LETTER_TYPES: dict[str, LetterType] = {
    letter.code: letter
    for letter in (
        LetterType(
            code="LETTRE_ADM",
            label=_("admission letter"),
            sent_when=_("a favourable decision is validated"),
            recipient=_("the candidate"),
            template_base="",
            variables=(
                *_COMMON,
                Variable("confirmation_date", _("date by which the candidate must confirm"), "30/06/2026"),
            ),
            context=_no_context,
        ),
        LetterType(
            code="LETTRE_REFUS",
            label=_("refusal letter"),
            sent_when=_("an unfavourable decision is validated"),
            recipient=_("the candidate"),
            template_base="",
            variables=(*_COMMON, Variable("reason", _("reason for the refusal"), "Capacité d'accueil atteinte")),
            context=_no_context,
        ),
    )
}

# What still needs a letter text before it may be deleted: the letters of released decisions not built yet are
# built from the text when the worker (or the candidate's confirmation) comes to them. The applications app, which
# holds those rows, registers its check from its ready() (this app may not read them: the one-way layers); the
# text's admin lists what each check returns as protected objects and refuses the deletion.
DeletionCheck = Callable[[Sequence["DecisionLetterTemplate"]], list[str]]
_DELETION_CHECKS: list[DeletionCheck] = []


def register_deletion_check(check: DeletionCheck) -> None:
    if check not in _DELETION_CHECKS:
        _DELETION_CHECKS.append(check)


def deletion_blockers(templates: Sequence["DecisionLetterTemplate"]) -> list[str]:
    """One French line per letter text of ``templates`` that something still needs ([] when all may go)."""
    return [line for check in _DELETION_CHECKS for line in check(templates)]


def sample_values(kind: str) -> dict[str, str | bool]:
    """The values of a letter of ``kind`` (``LETTER_TYPES``) with its variables' samples, as the mails' preview
    renders them (``Notification.sample_context``): nothing is read from the database."""
    letter_type = LETTER_TYPES[kind]
    return values_for(letter_type, letter_type.sample_context())


class _Letter(UnicodePDF):
    def __init__(self):
        super().__init__(format="A4")
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=20)


def render_letter_pdf(template: "DecisionLetterTemplate", values: dict[str, str | bool]) -> bytes:
    """The letter as PDF bytes. Text only goes through ``multi_cell`` without markup: a value cannot add
    formatting, and ``render_source`` never interprets a value's ``${…}``. The document's language is the one its
    text is written in, the institution's (``DecisionLetterTemplate.FRENCH_TEXTS``), whatever the candidate's: a
    screen reader reads it with that pronunciation (RGAA 8.4). A signature image missing from the storage, or that is
    not an image, is left out; the storage failing otherwise is ``StorageUnavailable`` (:func:`_signature`)."""
    title = " ".join(render_source(template.title, values).split())
    body = render_source(template.body, values)
    pdf = _Letter()
    pdf.set_title(title)
    pdf.set_author(settings.INSTITUTION_NAME)
    pdf.set_subject(f"{values.get('formation_code', '')} {values.get('numero_dossier', '')}")
    pdf.set_lang(settings.LANGUAGE_CODE)
    pdf.set_creator("ecandidat")
    pdf.add_page()
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(0, 5, settings.INSTITUTION_NAME, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 5, template.centre.label, new_x="LMARGIN", new_y="NEXT")
    if template.centre.address:
        pdf.multi_cell(0, 5, template.centre.address, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    name = f"{values.get('first_name', '')} {values.get('last_name', '')}"
    pdf.multi_cell(0, 5, name, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, str(values.get("letter_date", "")), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    if template.signatory:
        pdf.multi_cell(0, 5, template.signatory, align="R", new_x="LMARGIN", new_y="NEXT")
    if template.signature and (image := _signature(template)) is not None:
        try:
            pdf.image(image, x=pdf.w - pdf.r_margin - 50, w=50)
        # Not an image Pillow or fpdf2 can draw (UnidentifiedImageError and a truncated file are OSErrors; bytes
        # read into memory, so no storage error is among them): the letter goes without it.
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            logger.warning("letter template %s: signature not usable (%s)", template.pk, error)
    return bytes(pdf.output())


def _signature(template: "DecisionLetterTemplate") -> io.BytesIO | None:
    """The bytes of ``template``'s signature image, or None when its file is missing from the storage (the letter
    goes without it, as with a file that is not an image). The storage failing otherwise (the bucket unreachable,
    refusing, or hanging: botocore's read and connect time-outs are ``OSError``s; an I/O error of the disk) is
    ``StorageUnavailable`` (``ecandidat.downloads.storage_errors``), which propagates: the letter is not built now
    rather than built unsigned for good (its digest names the image's file, not its bytes, so nothing would build it
    again once the storage is back)."""
    name = str(template.signature.name)
    try:
        with storage_errors(), default_storage.open(name, "rb") as handle:
            return io.BytesIO(handle.read())
    except Http404:  # storage_errors' missing file: FileNotFoundError, or the bucket's 404 (gone before the GET)
        logger.warning("letter template %s: its signature %s is missing from the storage", template.pk, name)
        return None
