"""The demonstration mailbox: the outbox as a newcomer's inbox, to open validation mails and click their links without
an SMTP server. Mounted by ecandidat/urls.py, and served, only where it is that newcomer's mailbox (``is_served``):
DEBUG on and no mail leaving the machine.

A mail's attachments are listed by name; the central office (who reads every mail in "Mails sortants") may
download them, read through their provider as the delivery reads them (``ecandidat.attachments``)."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from ecandidat import attachments
from ecandidat.attachments import AttachmentUnavailable
from ecandidat.models import OutboundEmail
from ecandidat.staff import is_central

PAGE_SIZE = 100
# The mail backends that deliver nothing, so that the outbox is the only place to read a mail: the console, the base
# settings' without EMAIL_URL (`make run`), and the tests' memory.
LOCAL_BACKENDS = frozenset(
    {"django.core.mail.backends.console.EmailBackend", "django.core.mail.backends.locmem.EmailBackend"}
)


def is_served() -> bool:
    """DEBUG on and a mail backend that delivers nothing. With an SMTP server (EMAIL_URL) the outbox holds the real
    candidates' mails (password-reset and validation links), never shown to anonymous visitors, whatever DEBUG
    says: DEBUG=1 left on a production once mounted them at /boite-mail/."""
    return settings.DEBUG and settings.MAILERS.get("default", {}).get("BACKEND") in LOCAL_BACKENDS


def _require_local_mailbox():
    # Defence in depth: the URLs are only mounted when is_served(), but a stray include must not expose mails.
    if not is_served():
        raise Http404


@login_not_required
@require_GET
def mailbox(request):
    """ "Boîte mail de démonstration": the latest outbox rows, newest first."""
    _require_local_mailbox()
    emails = OutboundEmail.objects.only("public_id", "to", "subject", "code", "status", "created_at")[:PAGE_SIZE]
    return render(request, "ecandidat/mailbox.html", {"emails": emails})


@login_not_required
@require_GET
def mailbox_detail(request, public_id):
    _require_local_mailbox()
    email = get_object_or_404(OutboundEmail, public_id=public_id)
    can_download = bool(email.attachments) and is_central(request.user)
    return render(request, "ecandidat/mailbox_detail.html", {"email": email, "can_download": can_download})


@require_GET
def mailbox_attachment(request, public_id, index: int):
    """The ``index``-th file of a mail, for the central office only (the files are candidates' letters; anyone
    else gets 404), read through its provider: a letter not built yet is built, as for the delivery. 404 when the
    file can never be had or no provider reads it."""
    _require_local_mailbox()
    if not is_central(request.user):
        raise Http404
    email = get_object_or_404(OutboundEmail.objects.only("pk", "attachments"), public_id=public_id)
    refs = email.attachment_refs
    if index >= len(refs):
        raise Http404
    ref = refs[index]
    try:
        content = attachments.read(ref)
    except (AttachmentUnavailable, LookupError) as error:
        raise Http404 from error
    response = HttpResponse(content, content_type=ref.mimetype)
    response["Content-Disposition"] = content_disposition_header(True, ref.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
