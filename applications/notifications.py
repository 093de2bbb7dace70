"""Mails about an application: one per eCandidat mail code and recipient (house-style §4).

Templates: ``templates/applications/email/<code lower>_subject.txt`` and ``_body.txt`` (optional ``_body.html``).
Everything goes through the outbox (``ecandidat.emails.enqueue_email``) and leaves after the commit.
"""

from django.conf import settings
from django.urls import reverse

from accounts.models import StaffMembership
from ecandidat.emails import enqueue_email

# Which Commission switch governs each alert code.
ALERT_SWITCHES = {
    "COMMISSION_ALERT_TRANSMISSION": "alert_on_transmission",
    "COMMISSION_ALERT_ANNULATION": "alert_on_cancellation",
    "COMMISSION_ALERT_DESISTEMENT": "alert_on_withdrawal",
    "COMMISSION_ALERT_LISTE_PRINC": "alert_on_promotion",
}


def _context(application, extra: dict | None) -> dict:
    candidate = application.candidate
    formation = application.formation
    return {
        "application": application,
        "candidate": candidate,
        "formation": formation,
        "numero_dossier": candidate.user.username,
        "first_name": candidate.first_name,
        "last_name": candidate.usual_name or candidate.birth_name,
        "site_url": getattr(settings, "SITE_URL", ""),
        **(extra or {}),
    }


def notify_candidate(*, application, code: str, extra: dict | None = None):
    """Write mail ``code`` about ``application`` to its candidate, in the candidate's preferred language."""
    candidate = application.candidate
    return enqueue_email(
        to=candidate.user.email,
        code=code,
        template_base=f"applications/email/{code.lower()}",
        context=_context(application, extra),
        language=candidate.preferred_language or settings.LANGUAGE_CODE,
    )


def commission_recipients(commission, code: str) -> list[str]:
    """The addresses that receive ``code`` for this commission, per its alert settings (may be empty)."""
    switch = ALERT_SWITCHES.get(code)
    if switch is None or not getattr(commission, switch) or commission.alert_mode == "N":
        return []
    if commission.alert_mode == "M":
        return [commission.email] if commission.email else []
    members = StaffMembership.objects.for_commission(commission)
    return sorted(set(members.exclude(user__email="").values_list("user__email", flat=True)))


def notify_commission(*, application, code: str, extra: dict | None = None) -> int:
    """Alert the application's commission (COMMISSION_ALERT_*), if it asked for this alert. Returns the count."""
    commission = application.formation.commission
    recipients = commission_recipients(commission, code)
    context = _context(application, {"commission": commission, **(extra or {})})
    for address in recipients:
        enqueue_email(
            to=address,
            code=code,
            template_base=f"applications/email/{code.lower()}",
            context=context,
            language=settings.LANGUAGE_CODE,
        )
    return len(recipients)


def application_path(application) -> str:
    """The candidate's page of this application, for links in mails."""
    return reverse("applications:detail", args=[application.public_id])
