from django import template
from django.conf import settings
from django.urls import reverse

from accounts import services

register = template.Library()


@register.simple_tag
def ent_enabled() -> bool:
    """Whether the ENT (OpenID Connect) login is configured; without ENT_SERVER_URL its panel is hidden."""
    return bool(settings.ENT_SERVER_URL)


@register.simple_tag(takes_context=True)
def ent_login_url(context) -> str:
    """Where the ENT button posts: the CAS login (ENT_PROTOCOL=cas) or allauth's OpenID Connect one."""
    if settings.ENT_PROTOCOL == "cas":
        return reverse("accounts:cas_login")
    from allauth.socialaccount.templatetags.socialaccount import provider_login_url

    return provider_login_url(context, "ent")


@register.simple_tag
def may_set_password(user) -> bool:
    """Whether the menu offers "Définir un mot de passe" (an ENT candidate, ENT_ACCOUNTS_PASSWORD on)."""
    return services.may_set_password(user)
