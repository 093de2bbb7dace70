from django.conf import settings


def institution(request):
    """The institution's name and contact, shown in the header, footer and personal-data notice."""
    return {
        "institution_name": settings.INSTITUTION_NAME,
        "institution_contact_email": settings.INSTITUTION_CONTACT_EMAIL,
        "institution_logo_url": settings.INSTITUTION_LOGO_URL,
        # What this session really has left (ecandidat/sessions.py): the expiry warning's countdown.
        "session_cookie_age": getattr(request, "session_expires_in", settings.SESSION_COOKIE_AGE),
        "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
        "personal_data_office": settings.PERSONAL_DATA_OFFICE,
        "maintenance_start": settings.MAINTENANCE_START,
        "maintenance_end": settings.MAINTENANCE_END,
        "debug": settings.DEBUG,
        # The menu marks the current page; a 404 has no resolved URL.
        "current_url_name": request.resolver_match.url_name if request.resolver_match else "",
    }
