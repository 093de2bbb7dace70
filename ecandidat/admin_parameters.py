"""Back office: "Paramètres" (eCandidat "Paramétrage", ecandidat-features §2.11), the scolarité's behavioural
parameters (``ecandidat.parameters``) on one form: each with its label, help, current value, where that value comes
from (the environment, or changed here by whom and when) and "Rétablir la valeur par défaut"; the history of the
changes below it.

The central office and superusers only (ecandidat-features §2.1: the "Scolarité" parameters are the scolarité
centrale's): anyone else logged in, staff included, gets a 404 before the admin's own checks; an anonymous visitor
goes to the login. Mounted as the changelist of ``ParameterOverride`` (``ecandidat.admin``), so the admin's home
and sidebar link to it under the ecandidat app. Works without JavaScript: one form to save, one small form per
"Rétablir" button (outside the main form, so that Enter in a field saves rather than restores).

Only the fields the person changed on the page are sent to the service (each field carries the value shown, as
Django's ``show_hidden_initial``): saving the page does not put back a value someone else changed meanwhile.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods

from ecandidat import parameters
from ecandidat.admin_base import bound_view
from ecandidat.models import ParameterChange, ParameterOverride
from ecandidat.parameters import Kind, Parameter, ParameterErrors, set_parameters
from ecandidat.staff import is_central

RECENT_CHANGES = 50
PAGE = "admin:ecandidat_parameteroverride_changelist"


def central_view(model_admin: Any, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``bound_view`` for the central office (and superusers): anyone else logged in gets a 404 before the admin's
    checks (which would send a candidate to the login page)."""
    bound = bound_view(model_admin, view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not is_central(request.user):
            raise Http404
        return bound(request, *args, **kwargs)

    return wrapper


def _field(parameter: Parameter) -> forms.Field:
    common: dict[str, Any] = {
        "label": parameter.label,
        "help_text": parameter.help_text,
        "show_hidden_initial": True,
    }
    if parameter.kind is Kind.BOOL:
        return forms.BooleanField(required=False, **common)
    if parameter.kind is Kind.INT:
        low, high = parameter.bounds()
        return forms.IntegerField(min_value=low, max_value=high, **common)
    return forms.ChoiceField(choices=parameter.choices, **common)


class ParametersForm(forms.Form):
    """One field per parameter of the registry, in its order; ``initial`` holds the current values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for parameter in parameters.PARAMETERS:
            self.fields[parameter.name] = _field(parameter)


def _current() -> tuple[dict[str, Any], dict[str, ParameterOverride]]:
    """The values in force (read now, not from this process's memory) and the override rows, by name."""
    rows = {row.name: row for row in ParameterOverride.objects.select_related("changed_by")}
    values = {}
    for parameter in parameters.PARAMETERS:
        row = rows.get(parameter.name)
        try:
            values[parameter.name] = parameter.clean(row.value) if row is not None else parameter.default
        except parameters.ParameterError:  # a value this version no longer takes: the accessor ignores it too
            values[parameter.name] = parameter.default
            rows.pop(parameter.name)
    return values, rows


@require_http_methods(["GET", "POST"])
def parameters_view(request, *, model_admin):
    values, rows = _current()
    if request.method == "POST" and "reset" in request.POST:
        return _reset(request, request.POST["reset"], values)
    form = ParametersForm(data=request.POST or None, initial=values)
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            changes = set_parameters(actor=request.user, values=changed)
        except ParameterErrors as refused:
            for name, message in refused.errors.items():
                form.add_error(name if name in form.fields else None, message)
        else:
            if changes:
                messages.success(
                    request,
                    ngettext("%(count)d parameter changed.", "%(count)d parameters changed.", len(changes))
                    % {"count": len(changes)},
                )
            else:
                messages.info(request, gettext("No parameter was changed."))
            return redirect(PAGE)
    history = ParameterChange.objects.select_related("changed_by")[:RECENT_CHANGES]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Parameters"),
        "opts": model_admin.model._meta,
        "form": form,
        "rows": [
            {
                "parameter": parameter,
                "field": form[parameter.name],
                "current": parameter.display(values[parameter.name]),
                "default": parameter.display(parameter.default),
                "override": rows.get(parameter.name),
            }
            for parameter in parameters.PARAMETERS
        ],
        "history": [{"change": change, **parameters.describe_change(change)} for change in history],
    }
    return TemplateResponse(request, "admin/ecandidat/parameters.html", context, status=400 if form.is_bound else 200)


def _reset(request, name: str, values: dict[str, Any]) -> HttpResponse:
    """ "Rétablir la valeur par défaut" of one parameter: its override removed (the environment's value again)."""
    parameter = parameters.REGISTRY.get(name)
    if parameter is None:
        messages.error(request, gettext("This parameter does not exist."))
        return redirect(PAGE)
    changes = set_parameters(actor=request.user, values={name: parameter.default})
    if changes:
        messages.success(
            request,
            gettext("“%(label)s” is back to its default value: %(value)s.")
            % {"label": parameter.label, "value": parameter.display(parameter.default)},
        )
    else:
        messages.info(request, gettext("“%(label)s” already had its default value.") % {"label": parameter.label})
    return redirect(PAGE)
