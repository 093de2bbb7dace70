"""Signals of the candidate's answer to a favourable decision, for concerns that are not the answer itself (the OPI
for the student records system, ``applications.opi``). Both are sent inside the service's transaction, with
``sender=Application``, ``application=`` (locked, with its candidate and formation) and ``actor=`` (the user who
answered; None when a nightly batch did). A receiver that raises rolls the answer back; one that talks to the outside
world should use ``transaction.on_commit``.

- ``application_confirmed``: ``applications.services.candidature.confirm_application`` (the candidate, or staff on
  the candidate's behalf).
- ``confirmation_withdrawn``: a confirmed application is withdrawn ("Désister" after confirming, by the candidate or
  by staff on the candidate's behalf: ``withdraw_application``, which also passes ``reason=``, a
  ``WithdrawalReason`` code), or a new decision, once validated, undoes the confirmation (``staff.validate_decision``;
  entering it, ``staff.record_decision``, changes nothing the candidate sees).
"""

from django.dispatch import Signal

application_confirmed = Signal()
confirmation_withdrawn = Signal()
