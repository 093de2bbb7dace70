"""The demonstration mailbox (DEBUG only): the outbox as a newcomer's inbox, to open validation mails and click
their links without an SMTP server. Mounted by ecandidat/urls.py only when DEBUG is on."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from ecandidat.models import OutboundEmail

PAGE_SIZE = 100


def _require_debug():
    # Defence in depth: the URLs are only mounted with DEBUG, but a stray include must not expose mails.
    if not settings.DEBUG:
        raise Http404


@login_not_required
@require_GET
def mailbox(request):
    """ "Boîte mail de démonstration": the latest outbox rows, newest first."""
    _require_debug()
    emails = OutboundEmail.objects.only("public_id", "to", "subject", "code", "status", "created_at")[:PAGE_SIZE]
    return render(request, "ecandidat/mailbox.html", {"emails": emails})


@login_not_required
@require_GET
def mailbox_detail(request, public_id):
    _require_debug()
    email = get_object_or_404(OutboundEmail, public_id=public_id)
    return render(request, "ecandidat/mailbox_detail.html", {"email": email})
