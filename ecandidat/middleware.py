from django.conf import settings
from django.shortcuts import render

from ecandidat.maintenance import hour_label, is_under_maintenance, seconds_until_window_ends

# Paths that keep working during maintenance: health checks, assets (the institution's theme, /theme.css, is one: the
# maintenance page itself links it), the back office and its login.
EXEMPT_PREFIXES = (
    "/healthz",
    "/static/",
    "/theme.css",
    "/gestion/",
    "/accounts/login/",
    "/accounts/logout/",
    "/i18n/",
)


class MaintenanceMiddleware:
    """During the nightly window (or when the switch is on), candidates get a 503 maintenance page.

    Staff keep access. A form posted as the window opens is refused whole: the view never runs, so nothing is
    half-saved, and the candidate can post it again after the window.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(EXEMPT_PREFIXES) or (request.user.is_authenticated and request.user.is_staff):
            return self.get_response(request)
        under_maintenance, message = is_under_maintenance()
        if not under_maintenance:
            return self.get_response(request)
        response = render(
            request,
            "ecandidat/maintenance.html",
            {
                "message": message,
                "maintenance_start_label": hour_label(settings.MAINTENANCE_START),
                "maintenance_end_label": hour_label(settings.MAINTENANCE_END),
            },
            status=503,
        )
        response["Retry-After"] = str(seconds_until_window_ends())
        response["Cache-Control"] = "no-store"
        return response
