from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def ent_enabled() -> bool:
    """Whether the ENT (OpenID Connect) login is configured; without ENT_SERVER_URL its panel is hidden."""
    return bool(settings.ENT_SERVER_URL)
