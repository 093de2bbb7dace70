"""Back office: the central office adds a staff member found in the LDAP directory (by uid or e-mail address).

Mounted by ``accounts.admin.UserAdmin.get_urls`` at ``/gestion/accounts/user/from-directory/``, and linked (« Ajouter
depuis l'annuaire ») above the users' and the staff rights' lists when a directory is configured; the "Add" button of
the user list is still Django's (an account typed by hand). The work is ``accounts.directory``'s.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

from accounts import directory, staff_enrolment
from accounts.models import User
from ecandidat.exceptions import BusinessRuleError

NOT_IN_DIRECTORY = gettext_lazy("The directory has no staff member with this login or address.")
DIRECTORY_DOWN = gettext_lazy("The directory does not answer. Please try again later.")
NO_DIRECTORY = gettext_lazy("No directory is configured (LDAP_URL).")


class StaffFromDirectoryForm(forms.Form):
    identifier = forms.CharField(
        label=gettext_lazy("login (uid) or e-mail address in the directory"), max_length=254, strip=True
    )


def may_add_from_directory(actor) -> bool:
    """Whether the lists offer « Ajouter depuis l'annuaire »: the central office's rule, and a directory to read (no
    link to a page that can only say there is none). No query: the staff scope is already loaded on admin pages."""
    return isinstance(actor, User) and staff_enrolment.may_issue_enrolment_code(actor) and directory.is_configured()


def staff_from_directory_view(request: HttpRequest, *, model_admin) -> HttpResponse:
    """Look the person up, create the account (no password: CAS login), then open its page (a superuser) or a new
    membership for it (the rest of the central office) to give roles."""
    actor = request.user
    if not isinstance(actor, User) or not staff_enrolment.may_issue_enrolment_code(actor):  # the central office's rule
        raise PermissionDenied
    form = StaffFromDirectoryForm(data=request.POST or None)
    if not directory.is_configured():
        # A message on this page, not the form's error: a form never posted takes none (Django's add_error needs
        # cleaned data), and the page opened from the list's button failed (a 500) where no directory is set.
        messages.error(request, NO_DIRECTORY)
    elif request.method == "POST" and form.is_valid():
        try:
            user = directory.create_staff_from_directory(identifier=form.cleaned_data["identifier"], actor=actor)
        except directory.DirectoryUnavailable:
            form.add_error(None, DIRECTORY_DOWN)
        except directory.EntIdentityOfCandidate as refused:
            # The person signed up as a candidate through the ENT before this account: said next to the uid, with
            # the candidate account to resolve first (nothing created).
            form.add_error("identifier", str(refused))
        except BusinessRuleError as error:
            exists = "exists already" in str(error)
            form.add_error("identifier", gettext("This account exists already.") if exists else NOT_IN_DIRECTORY)
        else:
            messages.success(request, gettext("%(name)s was added from the directory.") % {"name": user.username})
            if actor.is_superuser:
                return redirect("admin:accounts_user_change", user.pk)
            # The rest of the central office (no rights on accounts' pages): straight to the new member's first role.
            return redirect(f"{reverse('admin:accounts_staffmembership_add')}?user={user.pk}")
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Add a staff member from the directory"),
        "form": form,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "accounts/admin_staff_from_directory.html", context)
