"""Back office: "Tests de connexion" (eCandidat "Versions" screen, ecandidat-features §2.2; issue #102), for the
university's IT. One line per external service (``ecandidat.connectivity``): what is configured (secrets masked),
whether it answers now and how long it took; and a test mail through the outbox (as ``manage.py send_test_email``).

Superusers only: the page shows hosts, addresses and accounts of the infrastructure. Anyone else logged in gets a
404 (outsiders get a 404 in this project), before the admin's own checks; an anonymous visitor goes to the login.
Mounted by ``ecandidat.admin.MaintenanceSwitchAdmin.get_urls``, at ``/gestion/ecandidat/maintenanceswitch/
connectivity/``. Every run and every test mail is written to the admin's history (LogEntry) with its results, and
the page lists the last ones.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ecandidat import connectivity
from ecandidat.admin_base import bound_view
from ecandidat.emails import enqueue_email

RECENT_RUNS = 10


class TestMailForm(forms.Form):
    address = forms.EmailField(label=gettext_lazy("E-mail address"), max_length=254)


def superuser_view(model_admin: Any, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``bound_view`` for superusers only: any other logged-in person gets a 404 before the admin's checks (which
    would send a candidate to the login page); the admin then asks an anonymous visitor to log in and a
    superuser without a second factor for one."""
    bound = bound_view(model_admin, view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not request.user.is_superuser:
            raise Http404
        return bound(request, *args, **kwargs)

    return wrapper


def _page(request, model_admin, *, results, mail_form, tested: bool, status: int = 200) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Connection tests"),
        "opts": model_admin.model._meta,
        "results": results,
        "tested": tested,
        "check_timeout": f"{connectivity.CHECK_TIMEOUT:g}",
        "mail_form": mail_form,
        "recent_runs": connectivity.recent_runs(RECENT_RUNS),
        "outbox_url": reverse("admin:ecandidat_outboundemail_changelist"),
    }
    return TemplateResponse(request, "admin/ecandidat/connectivity.html", context, status=status)


@transaction.non_atomic_requests  # no transaction held while the checks wait: the only write is one history row
@require_http_methods(["GET", "POST"])
def connectivity_view(request, *, model_admin):
    """GET: the configured services, not tested yet. POST ("Tester"): every test at once (a few seconds at most),
    recorded in the admin's history, and the page with their results (no JavaScript needed)."""
    if request.method == "POST":
        results = connectivity.run_checks()
        connectivity.record(actor=request.user, text=connectivity.summary(results))
        tested = True
    else:
        results, tested = connectivity.describe_checks(), False
    return _page(request, model_admin, results=results, mail_form=TestMailForm(), tested=tested)


@require_POST
def test_mail_view(request, *, model_admin):
    """ "Envoyer un mail de test": one mail to the address typed, through the outbox and the configured sender
    (worker and SMTP server), as ``manage.py send_test_email`` does; recorded in the admin's history."""
    form = TestMailForm(data=request.POST)
    if not form.is_valid():
        return _page(
            request, model_admin, results=connectivity.describe_checks(), mail_form=form, tested=False, status=400
        )
    address = form.cleaned_data["address"]
    enqueue_email(to=address, code="OUTBOX_CHECK", template_base="ecandidat/email/outbox_check", context={})
    with translation.override(settings.LANGUAGE_CODE):  # the history is read in the institution's language
        text = gettext("Test mail to %(address)s put in the outbox.") % {"address": address}
    connectivity.record(actor=request.user, text=text)
    messages.success(
        request,
        gettext(
            "A test mail to %(address)s is in the outbox: its row in “Outgoing e-mails” says whether the mail server "
            "accepted it."
        )
        % {"address": address},
    )
    return redirect("admin:ecandidat_connectivity")
