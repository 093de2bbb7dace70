from django.conf import settings
from django.utils.html import format_html

from ecandidat.maintenance import hour_label, minutes_until_window
from ecandidat.staff_text import shown


def institution(request):
    """The institution's name and contact, shown in the header, footer and personal-data notice."""
    return {
        "institution_name": settings.INSTITUTION_NAME,
        "institution_contact_email": settings.INSTITUTION_CONTACT_EMAIL,
        "institution_logo_url": settings.INSTITUTION_LOGO_URL,
        # What this session really has left (ecandidat/sessions.py): the expiry warning's countdown.
        "session_cookie_age": getattr(request, "session_expires_in", settings.SESSION_COOKIE_AGE),
        "personal_data_office": _personal_data_office(),
        "maintenance_start": settings.MAINTENANCE_START,
        "maintenance_end": settings.MAINTENANCE_END,
        # The nightly window is less than an hour away: the pages say so (templates/includes/maintenance_soon.html).
        "maintenance_soon": _maintenance_soon(),
        "debug": settings.DEBUG,
        # The menu marks the current page; a 404 has no resolved URL.
        "current_url_name": request.resolver_match.url_name if request.resolver_match else "",
    }


def _personal_data_office() -> str:
    """The office of the personal-data notice in the page's language, marked with its own (RGAA 8.7): in English,
    ``PERSONAL_DATA_OFFICE_EN``, else the French name inside the English sentence."""
    office = shown(settings.PERSONAL_DATA_OFFICE, settings.PERSONAL_DATA_OFFICE_EN)
    return format_html('<span lang="{}">{}</span>', office.lang, office.text)


def _maintenance_soon() -> dict[str, str] | None:
    """The start and end of the nightly window as the guide writes them ("22h45", "06h"), when it starts within the
    hour; None otherwise. No query: the window is a setting."""
    if minutes_until_window() is None:
        return None
    return {"start": hour_label(settings.MAINTENANCE_START), "end": hour_label(settings.MAINTENANCE_END)}
