"""The two baseline views: a 20-row template page and an upload written to disk (and fsynced, as ecandidat does)."""

import os
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

ROWS = [
    {
        "code": f"M{n:02d}ENER",
        "title": f"Master {n} - Énergie, parcours matériaux et procédés solaires, formation initiale et continue",
        "centre": "Sciences Exactes et Expérimentales",
        "dates": "du 15/03/2026 au 30/11/2026",
        "mode": "Candidature en ligne",
        "summary": (
            "Formation ouverte aux titulaires d'une licence de physique, de chimie ou de sciences pour l'ingénieur ; "
            "pièces justificatives : relevés de notes, lettre de motivation, curriculum vitae."
        ),
    }
    for n in range(20)
]


def page(request: HttpRequest) -> HttpResponse:
    return render(request, "bare/page.html", {"rows": ROWS})


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return HttpResponseBadRequest("no file")
    settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    path = settings.UPLOAD_DIR / f"{uuid.uuid4().hex}.pdf"
    with open(path, "wb") as handle:
        for chunk in uploaded.chunks():
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return HttpResponseRedirect("/page/")
