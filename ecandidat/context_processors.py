from django.conf import settings


def institution(request):
    """The institution's name and contact, shown in the header, footer and personal-data notice."""
    return {
        "institution_name": settings.INSTITUTION_NAME,
        "institution_contact_email": settings.INSTITUTION_CONTACT_EMAIL,
        "personal_data_office": settings.PERSONAL_DATA_OFFICE,
        "maintenance_start": settings.MAINTENANCE_START,
        "maintenance_end": settings.MAINTENANCE_END,
        "debug": settings.DEBUG,
    }
