from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from offers.catalogue import build_catalogue
from offers.forms import CatalogueFilterForm


@login_not_required
@require_GET
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def catalogue(request):
    """ "Offre de formation": the public catalogue with its filter (works without JavaScript)."""
    form = CatalogueFilterForm(data=request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    centres = build_catalogue(query=query, today=timezone.localdate())
    return render(
        request,
        "offers/catalogue.html",
        {
            "form": form,
            "query": query,
            "centres": centres,
            "result_count": sum(len(diploma.rows) for centre in centres for diploma in centre.diplomas),
        },
    )
