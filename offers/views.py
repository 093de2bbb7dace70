from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from offers.catalogue import catalogue_tree
from offers.forms import CatalogueFilterForm


@login_not_required
@require_safe
@transaction.non_atomic_requests  # read-only page: no transaction, no savepoint queries
def catalogue(request):
    """ "Offre de formation": the public catalogue with its filter (works without JavaScript)."""
    form = CatalogueFilterForm(data=request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    user = request.user
    tree, result_count = catalogue_tree(
        query=query,
        today=timezone.localdate(),
        can_apply=bool(user.is_authenticated and getattr(user, "campaign_id", None)),
    )
    return render(
        request,
        "offers/catalogue.html",
        {"form": form, "query": query, "catalogue_tree": tree, "result_count": result_count},
    )
