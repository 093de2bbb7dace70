from allauth.socialaccount.templatetags.socialaccount import provider_login_url
from django import template
from django.conf import settings
from django.urls import reverse

from accounts import services
from ecandidat import parameters

register = template.Library()


@register.simple_tag(takes_context=True)
def ent_offered(context) -> bool:
    """Whether a login or signup page offers the ENT button: configured (without ENT_SERVER_URL its panel is
    hidden), and open to candidates (``ENT_CANDIDATE_LOGIN``, eCandidat CANDIDAT_IS_CONNECT_CAS), or the login page
    of staff on their way to the back office (``?next=/gestion/…``, where the admin sends them)."""
    if not settings.ENT_SERVER_URL:
        return False
    if parameters.get("ENT_CANDIDATE_LOGIN"):
        return True
    request = context.get("request")
    if request is None:
        return False
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    return next_url.startswith(reverse("admin:index"))


@register.simple_tag
def ent_closed_to_candidates() -> bool:
    """The ENT is configured but ``ENT_CANDIDATE_LOGIN`` is off: the login page tells students to use a password."""
    return bool(settings.ENT_SERVER_URL) and not parameters.get("ENT_CANDIDATE_LOGIN")


@register.simple_tag(takes_context=True)
def ent_login_url(context) -> str:
    """Where the ENT button posts: the CAS login (ENT_PROTOCOL=cas) or allauth's OpenID Connect one."""
    if settings.ENT_PROTOCOL == "cas":
        return reverse("accounts:cas_login")
    return provider_login_url(context, "ent")


@register.simple_tag
def may_set_password(user) -> bool:
    """Whether the menu offers "Définir un mot de passe" (an ENT candidate, ENT_ACCOUNTS_PASSWORD on)."""
    return services.may_set_password(user)
