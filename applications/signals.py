"""Signals of the candidate's answer to a favourable decision, for concerns that are not the answer itself (the OPI
for the student records system). Both are sent inside the service's transaction, with ``application=`` and
``actor=`` (the user who answered; None when a nightly batch did)."""

from django.dispatch import Signal

# The candidate confirmed ("Confirmer"): applications.services.candidature.confirm_application.
application_confirmed = Signal()
# A confirmed application was withdrawn ("Désister" after confirming).
confirmation_withdrawn = Signal()
