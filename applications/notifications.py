"""Mails about an application: declared here (one per eCandidat mail code and recipient, house-style §4),
registered by ``ApplicationsConfig.ready()``, sent by the services through :func:`notify_candidate` and
:func:`notify_commission`.

Templates: ``templates/applications/email/<code lower>_subject.txt`` and ``_body.txt`` (optional ``_body.html``).
The variables every mail about an application shares come from one builder, :func:`application_context`; a
decision's from :func:`decision_context`; the sender adds the few that belong to one sending (a staff comment,
the refused pieces, the forms still to fill in). Everything goes through the outbox and leaves after the commit.
"""

import datetime
import logging
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.functional import Promise, lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import StaffMembership, StaffRole
from accounts.notifications import FIRST_NAME, LAST_NAME, NUMERO_DOSSIER
from applications.dates import effective_return_deadline
from applications.enums import Civility, DossierStatus, WithdrawalReason
from applications.models import Application, Decision
from ecandidat.absolute_urls import absolute_url
from ecandidat.attachments import AttachmentRef
from ecandidat.emails import OwnText, cancel_pending, enqueue_notification_with
from ecandidat.maintenance import hour_label
from ecandidat.models import OutboundEmail
from ecandidat.notifications import INSTITUTION_NAME, Deferred, Kind, Notification, Variable
from ecandidat.staff_text import shown_in_mail
from offers.enums import ApplicationMode, TreatmentType
from offers.models import Centre, Commission

logger = logging.getLogger(__name__)

# Which Commission switch governs each alert code.
ALERT_SWITCHES = {
    "COMMISSION_ALERT_TRANSMISSION": "alert_on_transmission",
    "COMMISSION_ALERT_ANNULATION": "alert_on_cancellation",
    "COMMISSION_ALERT_DESISTEMENT": "alert_on_withdrawal",
    "COMMISSION_ALERT_LISTE_PRINC": "alert_on_promotion",
    "COMMISSION_ALERT_PROPOSITION": "alert_on_proposal",
}


# eCandidat complementAppel: the sentence a decision given after an appeal adds to its mail (translated when sent).
_APPEAL_SENTENCE = _("This decision was given after the examination of your appeal.")


def _short_date(day: datetime.date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


_short_date_lazily = lazy(_short_date, str)


def format_date(day: datetime.date | None) -> str:
    """A date as the mails write it, "" for none: written when the mail is rendered, in the mail's language
    (15/01/2027 in French, 15 Jan 2027 in English; ``ecandidat/formats``), not in that of the request that builds the
    mail's context (a staff member's)."""
    return _short_date_lazily(day) if day else ""


def _closing_hour() -> str:
    return hour_label(settings.MAINTENANCE_START)


_closing_hour_lazily = lazy(_closing_hour, str)


def deadline_hour() -> str:
    """The hour the candidate site closes on the day of a deadline (the nightly window's start, « 22h45 »; "22:45"
    in English), written in the mail's language; "" when no window is enforced: the site stays open until
    midnight and the deadline is the whole day. The mails say « au plus tard le 30/06/2027 à 22h45 » with it."""
    return _closing_hour_lazily() if settings.MAINTENANCE_WINDOW_ENFORCED else ""


def _sample_date(year: int, month: int, day: int) -> str:
    """A sample date, written as a real mail's (:func:`format_date`): in the language of the mail previewed."""
    return format_date(datetime.date(year, month, day))


# The samples are what a real mail holds, for the central office's preview ("Tester"). What the product writes (a
# civility, a withdrawal reason, the appeal sentence) is lazy: the English preview shows it as the English mail
# does. What the institution types (a formation's title, a refusal reason, a comment) stays as typed, in French:
# an English mail shows it so when no English text was given. Dates are written in the language previewed, as a
# real mail writes them (``format_date``). Links are absolute, as sent.
_SAMPLE_RECAP = "https://ecandidat.univ.example/candidat/candidatures/0b7e1c2a-5d4f-4c1e-9a8b-3f2d1e0c9b8a/"


_V: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable("site_url", _("address of eCandidat"), "https://ecandidat.univ.example"),
        Variable("formation_code", _("code of the formation"), "MINFO"),
        Variable("formation_title", _("title of the formation"), "Master Informatique"),
        Variable("return_deadline", _("date by which the dossier must be returned"), _sample_date(2026, 6, 15)),
        Variable(
            "deadline_hour",
            _("hour the site closes on the day of a deadline (empty when it stays open until midnight)"),
            _closing_hour_lazily(),
        ),
        # eCandidat's variables of the candidate, the formation's dates, the commission and the campaign (§2.10).
        Variable("civility", _("title of the candidate (Madame, Monsieur)"), Civility.MRS.label),
        Variable("birth_date", _("date of birth of the candidate"), _sample_date(2001, 2, 3)),
        Variable("ine", _("INE of the candidate"), "0123456789A"),
        Variable("closing_date", _("last day to apply to the formation"), _sample_date(2026, 5, 31)),
        Variable("preanalysis_date", _("pre-analysis date of the formation"), _sample_date(2026, 6, 5)),
        Variable("jury_date", _("jury date of the formation"), _sample_date(2026, 6, 20)),
        Variable("publication_date", _("publication date of the results"), _sample_date(2026, 6, 25)),
        Variable("campaign_label", _("label of the campaign"), "Campagne 2026-2027"),
        Variable("commission_label", _("name of the commission"), "Commission Master Informatique"),
        Variable("commission_email", _("e-mail address of the commission"), "master-info@univ.example"),
        Variable("commission_phone", _("telephone of the commission"), "+33 4 68 00 00 00"),
        Variable("commission_address", _("postal address of the commission"), "52 avenue Paul Alduy, 66860 Perpignan"),
        Variable("commission_url", _("web page of the commission"), "https://assistance.univ.example/master-info"),
        Variable(
            "commission_comment",
            _("comment of the commission for the candidates"),
            "Le secrétariat répond du lundi au vendredi, de 9 h à 12 h.",
            staff_text=True,
        ),
        Variable("paper", _("paper application (yes/no)"), False, Kind.FLAG),
        Variable(
            "proposal",
            _("admission proposed by staff: no piece to upload, nothing to transmit (yes/no)"),
            False,
            Kind.FLAG,
        ),
        Variable("transmitted", _("sent because the candidate transmitted the application (yes/no)"), True, Kind.FLAG),
        Variable(
            "direct_access",
            _("direct access: a favourable decision follows, no commission examines the dossier (yes/no)"),
            False,
            Kind.FLAG,
        ),
        Variable(
            "comment",
            _("comment entered by staff with the status"),
            "Merci de joindre votre relevé du S2.",
            staff_text=True,
        ),
        Variable(
            "refused_pieces",
            _("refused pieces with their comments and their own deadline to replace them, one per line"),
            [
                {"label": "Relevé de notes de licence", "comment": "illisible", "deadline": _sample_date(2026, 6, 20)},
                {"label": "CV", "comment": ""},
            ],
            Kind.LINES,
            staff_text=True,  # the office's piece labels, the staff's comments
        ),
        Variable("decision_label", _("label of the decision"), "Avis favorable"),
        Variable(
            "decision_comment",
            _("comment on the decision, when shown to the candidate"),
            "Bienvenue !",
            staff_text=True,
        ),
        Variable("confirmation_date", _("date by which the candidate must confirm"), _sample_date(2026, 6, 30)),
        Variable("reason", _("reason for the refusal"), "Capacité d'accueil atteinte", staff_text=True),
        Variable("rank", _("rank on the complementary list"), "3"),
        Variable(
            "appeal_sentence",
            _("sentence said of a decision given after an appeal (empty otherwise)"),
            _APPEAL_SENTENCE,
        ),
        Variable("previous_rank", _("rank the candidate had been told before"), "7"),
        Variable("withdrawal_reason", _("reason given for the withdrawal"), WithdrawalReason.OTHER_ADMISSION.label),
        Variable(
            "after_confirmation",
            _("the candidate had confirmed the application before withdrawing (yes/no)"),
            True,
            Kind.FLAG,
        ),
        Variable("letter_url", _("link to download the decision letter"), f"{_SAMPLE_RECAP}lettre/"),
        Variable(
            "letter_attached",
            _("the decision letter is attached to this mail (yes/no)"),
            True,
            Kind.FLAG,
        ),
        Variable(
            "recap_url",
            _("link to the application's recap (where the candidate transmits it)"),
            _SAMPLE_RECAP,
        ),
        Variable(
            "backoffice_url",
            _("link to the application in the back office (for staff)"),
            "https://ecandidat.univ.example/gestion/applications/application/123/change/",
        ),
        Variable("preselection_date", _("date of the preselection interview"), _sample_date(2026, 5, 20)),
        Variable("preselection_time", _("time of the preselection interview"), "14:30"),
        Variable(
            "preselection_place", _("place of the preselection interview"), "Bâtiment B, salle 12", staff_text=True
        ),
        Variable(
            "registration_instructions",
            _("instructions for the administrative registration"),
            "Inscription en ligne à partir du 1er juillet.",
            staff_text=True,
        ),
        Variable(
            "forms",
            _("complementary forms still to fill in, with their links, one per line"),
            [{"label": "Questionnaire de motivation", "url": "https://enquetes.univ.example/123"}],
            Kind.LINES,
        ),
    ]
}


def application_context(application: Application) -> dict[str, object]:
    """The variables of every mail about ``application`` (needs its candidate's user and its formation loaded).

    The campaign's and the commission's are ``Deferred``: read (one query each, once) only by a mail whose text
    prints them, so the mails that do not, the default ones, cost no query more."""
    candidate = application.candidate
    formation = application.formation

    def commission(field: str) -> Deferred:
        return Deferred(lambda: getattr(formation.commission, field))

    return {
        "site_url": settings.SITE_URL,
        "first_name": candidate.first_name,
        "last_name": candidate.usual_name or candidate.birth_name,
        "numero_dossier": candidate.user.username,
        "formation_code": formation.code,
        "formation_title": shown_in_mail(formation.title, formation.title_en),  # chosen in the mail's language
        "return_deadline": format_date(effective_return_deadline(application)),
        "deadline_hour": deadline_hour(),
        "paper": formation.mode == ApplicationMode.PAPER,
        "civility": Civility(candidate.civility).label if candidate.civility else "",  # lazy: the mail's language
        "birth_date": format_date(candidate.birth_date),
        "ine": candidate.ine,
        "closing_date": format_date(formation.closes_on),
        "preanalysis_date": format_date(formation.preanalysis_on),
        "jury_date": format_date(formation.jury_on),
        "publication_date": format_date(formation.publication_on),
        "campaign_label": Deferred(lambda: application.campaign.label),
        "commission_label": commission("label"),
        "commission_email": commission("email"),
        "commission_phone": commission("phone"),
        "commission_address": commission("address"),
        "commission_url": commission("url"),
        "commission_comment": Deferred(
            lambda: shown_in_mail(formation.commission.return_comment, formation.commission.return_comment_en)
        ),
        "recap_url": absolute_url(reverse("applications:detail", args=[application.public_id])),
        "backoffice_url": backoffice_url(application),
    }


def backoffice_url(application: Application) -> str:
    """The absolute link to ``application``'s page in the back office (the staff's mails)."""
    return absolute_url(reverse("admin:applications_application_change", args=[application.pk]))


def staff_copy_links(application: Application, extra: Mapping[str, object]) -> dict[str, object]:
    """The links of a centre's copy of a candidate's mail (``extra``: that mail's variables). The copy is the
    candidate's text, but staff are not the candidate: the candidate's recap and letter download are not found for
    them (404). So in the copy « Votre candidature sur eCandidat » (``${recap_url}``) is the application in the back
    office, and the letter's link (``${letter_url}``, when the mail gives one) its download from there. The same
    variables whatever the text (the files, the central office's, a decision type's): the copy says what the
    candidate's mail says, with links its reader can open."""
    links: dict[str, object] = {"recap_url": backoffice_url(application)}
    if extra.get("letter_url"):
        links["letter_url"] = absolute_url(reverse("admin:applications_application_letter", args=[application.pk]))
    return links


def decision_context(
    decision: Decision, *, confirmation_date: datetime.date | None = None, rank: int | None = None
) -> dict[str, object]:
    """The variables of the mail of a validated decision (AVIS_*), with the date de confirmation of a favourable
    one and the rank of a complementary-list one as the candidate's recap shows it (``rank``: see
    ``staff.mailed_rank``; "" when the recap shows none). Needs the decision's type and refusal reason loaded."""
    decision_type = decision.decision_type
    context: dict[str, object] = {
        "decision_label": shown_in_mail(
            decision_type.candidate_label or decision_type.label, decision_type.candidate_label_en
        ),
        "decision_comment": decision.comment if decision_type.show_comment else "",
        "reason": (
            shown_in_mail(decision.refusal_reason.label, decision.refusal_reason.label_en)
            if decision.refusal_reason is not None
            else ""
        ),
        "rank": rank or "",
        "preselection_date": "",
        "preselection_time": "",
        "preselection_place": decision.preselection_place,
        "confirmation_date": format_date(confirmation_date),
        "appeal_sentence": _APPEAL_SENTENCE if decision.after_appeal else "",
    }
    if decision.preselection_at:
        local = timezone.localtime(decision.preselection_at)
        context["preselection_date"] = format_date(local)
        context["preselection_time"] = local.strftime("%H:%M")
    return context


_APPLICATION = (
    INSTITUTION_NAME,
    _V["site_url"],
    FIRST_NAME,
    LAST_NAME,
    NUMERO_DOSSIER,
    _V["formation_code"],
    _V["formation_title"],
    *(
        _V[name]
        for name in (
            "civility",
            "birth_date",
            "ine",
            "closing_date",
            "preanalysis_date",
            "jury_date",
            "publication_date",
            "campaign_label",
            "commission_label",
            "commission_email",
            "commission_phone",
            "commission_address",
            "commission_url",
            "commission_comment",
        )
    ),
)
_DECISION = (*_APPLICATION, _V["decision_label"], _V["decision_comment"], _V["appeal_sentence"])
_CANDIDATE = _("the candidate")
_COMMISSION = _("the commission (alert address or members)")


def _application(
    code: str, label: Promise, sent_when: Promise, variables: tuple[Variable, ...], recipient: Promise = _CANDIDATE
) -> Notification:
    return Notification(
        code=code,
        label=label,
        sent_when=sent_when,
        recipient=recipient,
        template_base=f"applications/email/{code.lower()}",
        variables=variables,
        context=application_context,
    )


NOTIFICATIONS = (
    _application(
        "CANDIDATURE",
        _("application"),
        _("an application is created"),
        (
            *_APPLICATION,
            _V["return_deadline"],
            _V["deadline_hour"],
            _V["paper"],
            _V["proposal"],
            _V["recap_url"],  # a paper application downloads its dossier there, to print and post it
        ),
    ),
    _application("CANDIDATURE_ANNULATION", _("application cancelled"), _("an application is cancelled"), _APPLICATION),
    _application(
        "STATUT_AT",
        _("dossier status waiting"),
        format_lazy(_("the dossier status is set to {status}"), status=DossierStatus.WAITING.label),
        (*_APPLICATION, _V["comment"]),
    ),
    _application(
        "STATUT_RE",
        _("dossier status received"),
        format_lazy(
            _("the candidate transmits the application, or the status is set to {status}"),
            status=DossierStatus.RECEIVED.label,
        ),
        (*_APPLICATION, _V["comment"], _V["transmitted"]),
    ),
    _application(
        "STATUT_IN",
        _("dossier status incomplete"),
        format_lazy(_("the dossier status is set to {status}"), status=DossierStatus.INCOMPLETE.label),
        (
            *_APPLICATION,
            _V["comment"],
            _V["refused_pieces"],
            _V["return_deadline"],
            _V["deadline_hour"],
            _V["paper"],  # a paper dossier posts its pieces: it cannot upload them nor transmit online
            _V["recap_url"],
        ),
    ),
    _application(
        "STATUT_CO",
        _("dossier status complete"),
        format_lazy(_("the dossier status is set to {status}"), status=DossierStatus.COMPLETE.label),
        (*_APPLICATION, _V["comment"], _V["direct_access"]),
    ),
    _application(
        "TYPE_TRAIT_AC",
        _("processing type: controlled access"),
        format_lazy(_("staff set the processing type to “{type}”"), type=TreatmentType.CONTROLLED.label),
        _APPLICATION,
    ),
    _application(
        "TYPE_TRAIT_AD",
        _("processing type: direct access"),
        format_lazy(_("staff set the processing type to “{type}”"), type=TreatmentType.DIRECT.label),
        _APPLICATION,
    ),
    _application(
        "TYPE_TRAIT_ATT",
        _("processing type: undecided"),
        format_lazy(_("staff set the processing type to “{type}”"), type=TreatmentType.WAITING.label),
        _APPLICATION,
    ),
    _application(
        "AVIS_FAVORABLE",
        _("favourable decision"),
        _("a favourable decision is validated, or the candidate is promoted from the waiting list"),
        (
            *_DECISION,
            _V["confirmation_date"],
            _V["deadline_hour"],
            _V["letter_url"],
            _V["letter_attached"],
            _V["recap_url"],
        ),
    ),
    _application(
        "AVIS_DEFAVORABLE",
        _("unfavourable decision"),
        _("an unfavourable decision is validated"),
        (*_DECISION, _V["reason"], _V["letter_url"], _V["letter_attached"], _V["recap_url"]),
    ),
    _application(
        "AVIS_LISTE_ATT",
        _("waiting list decision"),
        _("a waiting-list decision is validated"),
        (*_DECISION, _V["recap_url"]),
    ),
    _application(
        "AVIS_LISTE_COMP",
        _("complementary list decision"),
        _("a complementary-list decision is validated"),
        (*_DECISION, _V["rank"], _V["recap_url"]),
    ),
    _application(
        "AVIS_PRESELECTION",
        _("preselection decision"),
        _("a preselection decision is validated"),
        (*_DECISION, _V["preselection_date"], _V["preselection_time"], _V["preselection_place"], _V["recap_url"]),
    ),
    _application(
        "CANDIDATURE_CONFIRM",
        _("application confirmed"),
        _("the candidate (or staff) confirms a favourable decision"),
        # The admission letter's, with ADMISSION_LETTER_AFTER_CONFIRMATION only (the decision mail's otherwise).
        (*_APPLICATION, _V["registration_instructions"], _V["letter_url"], _V["letter_attached"]),
    ),
    _application(
        "CANDIDATURE_DESIST",
        _("withdrawal"),
        _("the candidate (or staff) withdraws after a favourable decision"),
        (*_APPLICATION, _V["withdrawal_reason"]),
    ),
    _application(
        "CANDIDATURE_DESIST_AUTO",
        _("automatic withdrawal"),
        _("the nightly batch withdraws an application not confirmed in time"),
        (*_APPLICATION, _V["confirmation_date"]),
    ),
    _application(
        "LISTE_COMP_PROGRESSION",
        _("progress on the complementary list"),
        _("the nightly batch tells a candidate of a complementary list that their rank improved"),
        (*_APPLICATION, _V["rank"], _V["previous_rank"], _V["recap_url"]),
    ),
    _application(
        "CANDIDATURE_RELANCE_TRANSMISSION",
        _("reminder: application not transmitted"),
        _("the nightly batch reminds the candidate of an untransmitted application before its return deadline"),
        (*_APPLICATION, _V["return_deadline"], _V["deadline_hour"], _V["recap_url"]),
    ),
    _application(
        "CANDIDATURE_RELANCE_FAVO",
        _("reminder to confirm"),
        _("the nightly batch reminds the candidate before the confirmation date"),
        (*_APPLICATION, _V["confirmation_date"], _V["deadline_hour"], _V["recap_url"]),
    ),
    _application(
        "CANDIDATURE_RELANCE_FORMULAIRE",
        _("complementary forms reminder"),
        format_lazy(_("staff click “{button}”"), button=_("Remind the unanswered forms")),
        (*_APPLICATION, _V["forms"]),
    ),
    _application(
        "COMMISSION_ALERT_TRANSMISSION",
        _("commission alert: transmission"),
        _("a candidate transmits an application"),
        (*_APPLICATION, _V["backoffice_url"]),
        recipient=_COMMISSION,
    ),
    _application(
        "COMMISSION_ALERT_ANNULATION",
        _("commission alert: cancellation"),
        _("a candidate cancels an application"),
        (*_APPLICATION, _V["backoffice_url"]),
        recipient=_COMMISSION,
    ),
    _application(
        "COMMISSION_ALERT_DESISTEMENT",
        _("commission alert: withdrawal"),
        _("a candidate withdraws after a favourable decision"),
        (*_APPLICATION, _V["withdrawal_reason"], _V["after_confirmation"], _V["backoffice_url"]),
        recipient=_COMMISSION,
    ),
    _application(
        "COMMISSION_ALERT_LISTE_PRINC",
        _("commission alert: promotion to the main list"),
        _("a candidate is promoted from the waiting list"),
        (*_APPLICATION, _V["confirmation_date"], _V["backoffice_url"]),
        recipient=_COMMISSION,
    ),
    _application(
        "COMMISSION_ALERT_PROPOSITION",
        _("commission alert: admission proposal"),
        _("staff propose an admission (an application created with a favourable decision)"),
        (*_APPLICATION, _V["backoffice_url"]),
        recipient=_COMMISSION,
    ),
)


# The mails of the candidate's standing on a decision besides the decision mails themselves (which
# :func:`notify_decision` marks): « your rank improved », « confirm before… ». A withdrawal or a cancellation voids
# them too (:func:`cancel_decision_mails`).
ABOUT_THE_DECISION = frozenset({"LISTE_COMP_PROGRESSION", "CANDIDATURE_RELANCE_FAVO"})


def decision_topic(application: Application) -> str:
    """The outbox ``topic`` of the mails about ``application``'s decision (``OutboundEmail.topic``): its decision
    mails and their centre copies, and the mails of :data:`ABOUT_THE_DECISION`."""
    return f"decision:{application.pk}"


# Why a mail about the decision was not sent (the outbox's « motif de l'annulation »).
WITHDRAWN_BEFORE_SENT = _("Not sent: the application was withdrawn before this e-mail left.")
CANCELLED_BEFORE_SENT = _("Not sent: the application was cancelled before this e-mail left.")
REPLACED_BEFORE_SENT = _("Not sent: a later decision replaced this one before this e-mail left.")


def cancel_decision_mails(application: Application, *, reason: Promise = WITHDRAWN_BEFORE_SENT) -> int:
    """Withdraw the mails about ``application``'s decision that have not left yet (queued while the mail server
    was down, or the worker): the candidate has withdrawn the application (by themselves, through staff or the
    nightly batch), or cancelled it (``reason``: :data:`CANCELLED_BEFORE_SENT`), or a later decision is validated
    (:data:`REPLACED_BEFORE_SENT`, before its own mail is written), so what they announce (« confirmez avant
    le… », « si une place se libère… ») no longer holds: the sweeper sends what is due in the order of its next
    attempt, so an older mail that failed more often could even arrive after the newer one. Inside the caller's
    transaction, the application's row locked. ``reason`` is written in the institution's language, whoever acted
    in which: the central office reads it in the outbox. The candidate's mails and the centre's copies alike; the
    other mails (the withdrawal's, the account's) are left alone. A mail being sent at this very moment may still leave
    (``ecandidat.emails.cancel_pending``). Returns how many were."""
    with translation.override(settings.LANGUAGE_CODE):
        return cancel_pending(decision_topic(application), str(reason))


def status_topic(application: Application) -> str:
    """The outbox ``topic`` of the mails that tell ``application``'s candidate its dossier's status (STATUT_*), and
    of the mails of :data:`ABOUT_THE_STATUS`."""
    return f"status:{application.pk}"


# The mails that hold only while the dossier's status stays what it was when they were written, besides the status
# mails themselves: « votre candidature n'est pas encore transmise » (the nightly reminder of a dossier « En
# attente »). They get :func:`status_topic`, so the next status mail withdraws them if they have not left yet (the
# transmission's STATUT_RE, a status staff set), as the cancellation does (:func:`cancel_status_mails`); they
# withdraw no status mail themselves.
ABOUT_THE_STATUS = frozenset({"CANDIDATURE_RELANCE_TRANSMISSION"})


def treatment_topic(application: Application) -> str:
    """The outbox ``topic`` of the mails that tell ``application``'s candidate its processing type (TYPE_TRAIT_*)."""
    return f"treatment:{application.pk}"


# Why a status or type de traitement mail was not sent: a later one of its kind was written before it left.
STATUS_REPLACED_BEFORE_SENT = _("Not sent: a later status of the dossier replaced this one before this e-mail left.")
TREATMENT_REPLACED_BEFORE_SENT = _("Not sent: a later processing type replaced this one before this e-mail left.")


def cancel_status_mails(application: Application, *, reason: Promise = CANCELLED_BEFORE_SENT) -> int:
    """Withdraw the mails about ``application``'s dossier status (:func:`status_topic`: STATUT_*, and the reminder to
    transmit) and processing type (:func:`treatment_topic`: TYPE_TRAIT_*) that have not left yet: the application
    is cancelled, so « votre dossier est incomplet », « pas encore transmise » or « accès contrôlé » no longer
    hold. Those a later mail of their kind already withdrew keep their reason. As :func:`cancel_decision_mails`:
    inside the caller's transaction, the application's row locked, ``reason`` in the institution's language. Returns
    how many were."""
    with translation.override(settings.LANGUAGE_CODE):
        return cancel_pending(status_topic(application), str(reason)) + cancel_pending(
            treatment_topic(application), str(reason)
        )


def replaced_mails(application: Application, code: str) -> tuple[str, Promise] | None:
    """The ``topic`` of the mails that mail ``code`` about ``application`` replaces, with why they are withdrawn,
    or None when it replaces none. A status mail (STATUT_*: staff's status, the candidate's transmission) says where
    the dossier stands now, a type de traitement mail (TYPE_TRAIT_*) how it is examined now: the previous one of its
    kind still waiting in the outbox (its attempt failed on a server refusing for a while, « 421 ») no longer holds,
    and the sweeper, which sends in the order of the next attempt, would send it after the new one (« dossier
    complet », then « dossier incomplet »)."""
    if code.startswith("STATUT_"):
        return status_topic(application), STATUS_REPLACED_BEFORE_SENT
    if code.startswith("TYPE_TRAIT_"):
        return treatment_topic(application), TREATMENT_REPLACED_BEFORE_SENT
    return None


def notify_candidate(*, application: Application, code: str, **extra: object) -> OutboundEmail | None:
    """Write mail ``code`` about ``application`` to its candidate, in the candidate's preferred language, and the
    copies the application's centre asked for (``centre_copy_recipients``), in the institution's language. Returns
    the candidate's outbox row, or None when the central office has put the mail out of service."""
    return notify_candidate_with(application=application, code=code, extra=extra)


def notify_candidate_with(
    *,
    application: Application,
    code: str,
    extra: Mapping[str, object],
    attachments: Sequence[AttachmentRef] = (),
    own_text: OwnText | None = None,
    topic: str = "",
) -> OutboundEmail | None:
    """:func:`notify_candidate` with its ``extra`` variables as a mapping, files to attach (references, read when
    each mail is sent) and ``own_text``, the text of this sending by language instead of the mail's (a decision
    type's mail, see :func:`notify_decision`); the centre's copies carry the same files and text, with links for
    staff (:func:`staff_copy_links`), marked as copies of the mail sent to the candidate's address
    (``ecandidat.emails.as_copy``: « [Copie] » subject, « Copie du message envoyé à … » first line). Every row is
    linked to the candidate's account (``OutboundEmail.about``), so that its full deletion takes them all. ``topic``
    (``ecandidat.emails.cancel_pending``), on the candidate's row and the copies alike: :func:`decision_topic` for
    a decision mail and for the mails of :data:`ABOUT_THE_DECISION`, :func:`status_topic` for the mails of
    :data:`ABOUT_THE_STATUS`, whoever sends them.

    A mail that replaces the previous one of its kind (:func:`replaced_mails`: a status, a type de traitement) gets
    that kind's topic, and first withdraws the mails of it that have not left yet, the candidate's and the copies,
    with their reason in the institution's language (even when this one is out of service: what they say no longer
    holds). Inside the caller's transaction, the application's row locked."""
    if not topic and code in ABOUT_THE_DECISION:
        topic = decision_topic(application)
    if not topic and code in ABOUT_THE_STATUS:
        topic = status_topic(application)
    replaced = None if topic else replaced_mails(application, code)
    if replaced is not None:
        topic, reason = replaced
        with translation.override(settings.LANGUAGE_CODE):
            cancel_pending(topic, str(reason))
    candidate = application.candidate
    email = enqueue_notification_with(
        code,
        application,
        to=candidate.user.email,
        language=candidate.preferred_language or settings.LANGUAGE_CODE,
        extra=extra,
        attachments=attachments,
        own_text=own_text,
        about=candidate.user,
        topic=topic,
    )
    if email is not None:
        recipients = centre_copy_recipients(application.formation.centre, application.formation.commission_id)
        copy_extra = {**extra, **staff_copy_links(application, extra)} if recipients else extra
        for address in recipients:
            enqueue_notification_with(
                code,
                application,
                to=address,
                language=settings.LANGUAGE_CODE,
                extra=copy_extra,
                attachments=attachments,
                own_text=own_text,
                about=candidate.user,
                copy_of=candidate.user.email,
                topic=topic,
            )
    return email


def notify_decision(
    *,
    application: Application,
    decision: Decision,
    confirmation_date: datetime.date | None = None,
    letter: Mapping[str, object] | None = None,
    attachments: Sequence[AttachmentRef] = (),
    rank: int | None = None,
) -> OutboundEmail | None:
    """Mail a validated decision to the candidate (validation, release, promotion from the waiting list, direct
    access, admission proposal): its type's decision mail (``mail_code``), in the type's own text when it has one in
    the candidate's language, else the central office's text of that mail, else its files; ``letter``: what the
    mail says of the decision letter (``letter_url``, ``letter_attached``), ``attachments``: the letter itself when
    the commission attaches it. Reads no row for the type (``decision.decision_type`` is loaded by the callers).

    Nothing is sent (None, logged) when ``application``, the row the caller has locked, is withdrawn (``accepted``
    False) or cancelled as the mail is written: the withdrawal is irreversible (§1.12) and stands through any later
    decision (``staff.validate_decision``), so its candidate is on no list, is never promoted and cannot confirm. A
    complementary-list mail told them « Si une place se libère, vous recevrez un avis favorable », a favourable one
    asked them to confirm by a date: promises nothing keeps. The decision itself is validated and shown as usual.
    A mail written before the withdrawal that has not left yet is withdrawn with it (its topic,
    :func:`decision_topic`: :func:`cancel_decision_mails`)."""
    if application.accepted is False or application.is_cancelled:
        logger.info(
            "decision mail %s of application %s not sent: the application is %s",
            decision.decision_type.mail_code,
            application.pk,
            "cancelled" if application.is_cancelled else "withdrawn",
        )
        return None
    decision_type = decision.decision_type
    return notify_candidate_with(
        application=application,
        code=decision_type.mail_code,
        extra={**decision_context(decision, confirmation_date=confirmation_date, rank=rank), **(letter or {})},
        attachments=attachments,
        own_text=decision_type.mail_texts,
        topic=decision_topic(application),
    )


def centre_copy_recipients(centre: Centre, commission_id: int) -> list[str]:
    """Who receives a copy of the candidates' mails of this centre (eCandidat typ_send_mail_ctr_cand): nobody
    (``N``), its contact e-mail (``M``) or its active managers (``L``) — of every commission, or of the application's
    commission ``commission_id`` among the ones they manage. Each copy is an outbox row of its own, so it is retried,
    and can fail, on its own."""
    if centre.candidate_mail_copy == "M":
        return [centre.email] if centre.email else []
    if centre.candidate_mail_copy == "L":
        managers = StaffMembership.objects.filter(
            Q(all_commissions=True) | Q(commissions=commission_id),
            centre=centre,
            role=StaffRole.CENTRE_MANAGER,
            user__is_active=True,
        ).exclude(user__email="")
        return sorted(set(managers.values_list("user__email", flat=True)))
    return []


def commission_recipients(commission: Commission, code: str) -> list[str]:
    """The addresses that receive ``code`` for this commission, per its alert settings (may be empty)."""
    switch = ALERT_SWITCHES.get(code)
    if switch is None or not getattr(commission, switch) or commission.alert_mode == "N":
        return []
    if commission.alert_mode == "M":
        return [commission.email] if commission.email else []
    # Members whose account is deactivated (they left; the directory check or an administrator turned them off)
    # are no longer told about candidates.
    members = StaffMembership.objects.for_commission(commission).filter(user__is_active=True)
    return sorted(set(members.exclude(user__email="").values_list("user__email", flat=True)))


def notify_commission(*, application: Application, code: str, **extra: object) -> int:
    """Alert the application's commission (COMMISSION_ALERT_*), if it asked for this alert. Returns the count. The
    alerts name the candidate: they are linked to the account (``OutboundEmail.about``) and go with its full
    deletion."""
    recipients = commission_recipients(application.formation.commission, code)
    for address in recipients:
        enqueue_notification_with(
            code,
            application,
            to=address,
            language=settings.LANGUAGE_CODE,
            extra=extra,
            about=application.candidate.user,
        )
    return len(recipients)
