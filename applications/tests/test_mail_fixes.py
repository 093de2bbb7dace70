"""Review of the mails: the commission alerts on by default, the links of the centre's copies, the preview's samples.

1. A new commission got neither « Dossier transmis » (COMMISSION_ALERT_TRANSMISSION) nor the cancellation alert
   (COMMISSION_ALERT_ANNULATION) until a manager ticked them: eCandidat has every alert switch of a commission on by
   default (features §2.8).
2. The centre's copy of a candidate's mail (« Copie des mails envoyés aux candidats ») is the candidate's text, links
   included: « Votre candidature sur eCandidat : … » and the letter's download gave the staff member who opened
   them a 404 (the candidate's pages). In the copy they are the application and its letter in the back office.
3. The central office's preview of the decision mails ended « …vous pouvez aussi la télécharger sur eCandidat : »
   with nothing after it (no sample letter link), and the English preview showed product sentences in French (the
   appeal sentence, the withdrawal reason).
"""

import re

import pytest
from django.conf import settings
from django.urls import resolve, reverse
from django.utils import translation
from django.utils.functional import Promise

from applications.enums import DossierStatus
from applications.notifications import ALERT_SWITCHES, NOTIFICATIONS
from applications.services import candidature as candidature_services
from applications.services import staff
from applications.tests.factories_candidature import (
    PieceSubmissionFactory,
    complete_candidate,
    decide,
    make_application,
)
from applications.tests.helpers import RELEASED_REVIEW_PAGE_QUERIES, REVIEW_PAGE_QUERIES, change_url, mails
from ecandidat.emails import render_email
from ecandidat.models import MailTemplate
from offers.enums import Avis
from offers.models import Commission, DecisionLetterTemplate, RefusalReason
from offers.tests.factories import CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db

URL = re.compile(r"https?://\S+")


# --- 1. The commission's alerts, on by default ---------------------------------------------------------------------


def test_a_new_commission_has_every_alert_on():
    commission = Commission()

    assert {switch: getattr(commission, switch) for switch in ALERT_SWITCHES.values()} == dict.fromkeys(
        ALERT_SWITCHES.values(), True
    )


def test_a_new_commission_is_told_of_a_transmission_and_a_cancellation(campaign, centre):
    """Through the candidate's services, a commission as created (no switch touched)."""
    commission = CommissionFactory(centre=centre, email="commission.minfo@univ.example")
    formation = FormationFactory(centre=centre, commission=commission)
    candidate = complete_candidate(user__campaign=campaign)
    transmitted = candidature_services.create_application(
        candidate=candidate, formation=formation, actor=candidate.user
    )
    PieceSubmissionFactory(application=transmitted, piece_type=PieceTypeFactory(is_common=True, is_unique=True))
    cancelled = make_application(
        FormationFactory(centre=centre, commission=commission), campaign=campaign, status=DossierStatus.WAITING
    )

    candidature_services.transmit_application(application=transmitted, actor=candidate.user)
    candidature_services.cancel_application(application=cancelled, actor=cancelled.candidate.user)

    assert [mail.to for mail in mails("COMMISSION_ALERT_TRANSMISSION")] == ["commission.minfo@univ.example"]
    assert [mail.to for mail in mails("COMMISSION_ALERT_ANNULATION")] == ["commission.minfo@univ.example"]


# --- 2. The centre's copy: links its reader can open ---------------------------------------------------------------


@pytest.fixture
def formation(centre, commission):
    """A formation whose centre copies its candidates' mails to its managers, and has an admission and a refusal
    letter (the decision mails give the letter's link)."""
    centre.candidate_mail_copy = "L"
    centre.save()
    for kind in DecisionLetterTemplate.Kind:
        DecisionLetterTemplate.objects.create(kind=kind, centre=centre, title=str(kind.label), body="Texte.")
    return FormationFactory(centre=centre, commission=commission, code="MINFO")


def _incomplete(application, actor):
    staff.set_dossier_status(application, target=DossierStatus.INCOMPLETE, actor=actor, comment="Relevé manquant.")


def _favourable(application, actor):
    decide(application, Avis.FAVOURABLE, actor=actor)


def _unfavourable(application, actor):
    decide(application, Avis.UNFAVOURABLE, actor=actor, refusal_reason=RefusalReason.objects.create(code="CAP"))


# Queries of the staff pages a copy's links open: the review page (the count the helpers keep for it) and the
# letter's download (the letter's file built at this first opening). Any other page (the candidate's) counts none.
STAFF_PAGES = {"applications_application_change": REVIEW_PAGE_QUERIES, "applications_application_letter": 14}


def _links(mail) -> list[str]:
    links = URL.findall(mail.body)
    assert links, mail.body
    assert all(link.startswith(settings.SITE_URL + "/") for link in links), links
    return [link.removeprefix(settings.SITE_URL) for link in links]


@pytest.mark.parametrize(
    ("code", "send", "count"),
    [("STATUT_IN", _incomplete, 1), ("AVIS_FAVORABLE", _favourable, 2), ("AVIS_DEFAVORABLE", _unfavourable, 2)],
)
def test_every_link_of_the_centres_copy_opens_for_the_manager_who_gets_it(
    client, formation, campaign, centre_manager, django_assert_num_queries, code, send, count
):
    application = make_application(formation, campaign=campaign)
    send(application, centre_manager)
    to_candidate, copy = mails(code)
    assert (to_candidate.to, copy.to) == (application.candidate.user.email, centre_manager.email)
    client.force_login(centre_manager)

    links = _links(copy)

    assert len(links) == count  # the application (and the letter): nothing left out
    for link in links:
        page = resolve(link).url_name
        # A decision's copy opens the page of a validated decision: the mails about it are read too.
        released = code != "STATUT_IN" and page == "applications_application_change"
        with django_assert_num_queries(RELEASED_REVIEW_PAGE_QUERIES if released else STAFF_PAGES.get(page, 0)):
            assert client.get(link).status_code == 200, link  # the candidate's pages: 404
    assert reverse("admin:applications_application_change", args=[application.pk]) in links


def test_the_copy_of_the_central_offices_own_text_links_to_the_back_office_too(formation, campaign, centre_manager):
    """The links are the copy's variables, whatever its text: the files, the central office's (here), a type's."""
    MailTemplate.objects.create(
        code="STATUT_IN", language="fr", subject="Dossier incomplet", body="Complétez-le : ${recap_url}"
    )
    application = make_application(formation, campaign=campaign)

    _incomplete(application, centre_manager)

    to_candidate, copy = mails("STATUT_IN")
    recap = reverse("applications:detail", args=[application.public_id])
    assert to_candidate.body == f"Complétez-le : {settings.SITE_URL}{recap}"
    assert copy.body == (
        f"Copie du message envoyé à {application.candidate.user.email}\n\n"
        f"Complétez-le : {settings.SITE_URL}{change_url(application)}"
    )


@pytest.mark.parametrize(
    ("code", "send", "pages"),
    [
        ("STATUT_IN", _incomplete, {"detail": 7}),
        # The recap with its decision; the letter, built on this first opening.
        ("AVIS_FAVORABLE", _favourable, {"detail": 8, "letter": 12}),
    ],
)
def test_the_candidates_own_mail_keeps_the_candidates_links(
    client, formation, campaign, centre_manager, django_assert_num_queries, code, send, pages
):
    application = make_application(formation, campaign=campaign)
    send(application, centre_manager)
    to_candidate, _copy = mails(code)
    client.force_login(application.candidate.user)

    links = _links(to_candidate)

    assert sorted(str(resolve(link).url_name) for link in links) == sorted(pages)
    assert reverse("applications:detail", args=[application.public_id]) in links
    for link in links:
        with django_assert_num_queries(pages[resolve(link).url_name]):
            assert client.get(link).status_code == 200, link


# --- 3. The central office's preview: every sample in place, in the preview's language ------------------------------


def _preview(notification, language: str) -> str:
    """The body the central office's preview shows (``ecandidat.admin``: the sample context, the files)."""
    sample = {"institution_name": settings.INSTITUTION_NAME, **notification.sample_context()}
    return render_email(notification.template_base, sample, language=language, code=notification.code)[1]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("notification", NOTIFICATIONS, ids=lambda n: n.code)
def test_the_preview_gives_every_link_it_announces(notification, language):
    body = _preview(notification, language)

    assert not re.search(r"eCandidat ?:\s*\n", body), body  # « …sur eCandidat : » and nothing after it


@pytest.mark.parametrize("notification", NOTIFICATIONS, ids=lambda n: n.code)
def test_the_english_preview_shows_the_products_own_words_in_english(notification):
    written_by_the_product = [v.sample for v in notification.variables if isinstance(v.sample, Promise)]
    with translation.override("fr"):
        french = [str(sample) for sample in written_by_the_product]

    body = _preview(notification, "en")

    for sentence in [*french, "Cette décision a été rendue", "Admis(e) dans une autre formation"]:
        assert sentence not in body


@pytest.mark.parametrize(
    ("code", "language", "sentence"),
    [
        ("AVIS_FAVORABLE", "fr", "vous pouvez aussi la télécharger sur eCandidat : https://"),
        ("AVIS_DEFAVORABLE", "fr", "vous pouvez aussi la télécharger sur eCandidat : https://"),
        ("AVIS_FAVORABLE", "en", "you can also download it from eCandidat: https://"),
        ("AVIS_DEFAVORABLE", "en", "This decision was given after the examination of your appeal."),
    ],
)
def test_the_central_offices_preview_page(
    client, central_manager, django_assert_num_queries, code, language, sentence
):
    client.force_login(central_manager)

    # As the preview's own tests count it: the session, the staff scope, the permissions, the override's lookup.
    with django_assert_num_queries(8):
        response = client.get(reverse("admin:ecandidat_mailtemplate_preview"), {"code": code, "language": language})

    assert response.status_code == 200
    assert sentence in response.context["body"]
