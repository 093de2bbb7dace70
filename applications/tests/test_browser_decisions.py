"""From decision to admission in Chromium (issue 12).

A commission member enters a favourable and an unfavourable decision; the manager selects both in the list,
previews each mail (and the letter link) and releases them; the admitted candidate downloads the admission letter
from the recap, confirms, then withdraws with a reason; the first candidate of the complementary list is promoted
and mailed. Harness and logins as in ``test_browser_backoffice``.
"""

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from applications.models import DecisionLetter
from applications.services import candidature
from applications.services import staff as staff_services
from applications.tests.factories_candidature import DecisionTypeFactory, complete_candidate
from applications.tests.helpers import admin_operation, staff_login, staff_with_authenticator_app
from ecandidat.models import OutboundEmail
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser
from offers.enums import Avis
from offers.models import DecisionLetterTemplate, RefusalReason
from offers.tests.factories import CommissionFactory, FormationFactory

pytestmark = pytest.mark.browser
TITLE = "MASTER 1 - ENERGIE"


def _open(page, live_server, application) -> None:
    page.goto(f"{live_server.url}/gestion/applications/application/{application.pk}/change/")
    page.get_by_role("heading", name="Avis", exact=True).wait_for()


def test_decisions_released_with_preview_letter_confirm_then_withdraw(
    live_server, transactional_db, new_browser_page, campaign, settings
):
    settings.MFA_TOTP_TOLERANCE = 1
    commission = CommissionFactory()
    favourable_type = DecisionTypeFactory(avis=Avis.FAVOURABLE, label="Favorable", candidate_label="Avis favorable")
    DecisionTypeFactory(avis=Avis.UNFAVOURABLE, label="Défavorable", candidate_label="Avis défavorable")
    RefusalReason.objects.create(code="CAP", label="Capacité d'accueil atteinte")
    formation = FormationFactory(
        centre=commission.centre,
        commission=commission,
        title=TITLE,
        auto_waiting_list=True,
        favourable_decision_type=favourable_type,
    )
    DecisionLetterTemplate.objects.create(
        kind="LETTRE_ADM", centre=commission.centre, title="Lettre d'admission", body="Bienvenue ${first_name}."
    )
    manager, manager_secret = staff_with_authenticator_app(centre=commission.centre, user__username="gestionnaire")
    member, member_secret = staff_with_authenticator_app(
        commission_member=True, commission=commission, user__username="membre"
    )
    applications = []
    for first_name in ("Estelle", "Bruno", "Chloé"):
        candidate = complete_candidate(user__campaign=campaign, first_name=first_name)
        applications.append(
            candidature.create_application(candidate=candidate, formation=formation, actor=candidate.user)
        )
    admitted, refused, listed = applications
    # Chloé is first on the complementary list already.
    waiting = staff_services.record_decision(
        listed, decision_type=DecisionTypeFactory(avis=Avis.COMPLEMENTARY_LIST), actor=manager, rank=1
    )
    staff_services.validate_decision(waiting, actor=manager)

    # The commission member enters the two decisions.
    member_page = new_browser_page()
    staff_login(member_page, live_server, member, member_secret)
    _open(member_page, live_server, admitted)
    admin_operation(member_page, "Saisir un avis", {"Avis": "Favorable"})
    _open(member_page, live_server, refused)
    admin_operation(
        member_page,
        "Saisir un avis",
        {"Avis": "Défavorable", "Motivation": "Capacité d'accueil atteinte"},
    )

    # The manager selects both in the list, reads each mail, then releases them.
    manager_page = new_browser_page()
    staff_login(manager_page, live_server, manager, manager_secret)
    manager_page.goto(f"{live_server.url}/gestion/applications/application/")
    for application in (admitted, refused):
        manager_page.locator(f"input.action-select[value='{application.pk}']").check()
    manager_page.locator("select[name=action]").select_option(value="action_validate_decisions")
    manager_page.locator("button[name=index]").first.click()
    preview = manager_page.locator(".release-preview")
    expect(preview.get_by_role("heading", name="Mails qui seront envoyés")).to_be_visible()
    expect(preview).to_contain_text(admitted.candidate.user.email)
    expect(preview).to_contain_text("Capacité d'accueil atteinte")
    expect(preview.get_by_role("link", name="Voir la lettre (PDF)")).to_have_count(1)
    assert_no_serious_axe_violations(manager_page)
    assert not OutboundEmail.objects.filter(code__in=["AVIS_FAVORABLE", "AVIS_DEFAVORABLE"]).exists()
    manager_page.get_by_role("button", name="Confirmer", exact=True).click()
    manager_page.locator(".messagelist .success", has_text="Valider les avis").wait_for()
    assert OutboundEmail.objects.filter(code="AVIS_FAVORABLE", to=admitted.candidate.user.email).count() == 1
    assert OutboundEmail.objects.filter(code="AVIS_DEFAVORABLE", to=refused.candidate.user.email).count() == 1

    # The admitted candidate downloads the letter from the recap, confirms, then withdraws.
    candidate_page = new_browser_page()
    log_in_browser(candidate_page, live_server, admitted.candidate.user)
    candidate_page.goto(f"{live_server.url}/")
    candidate_page.get_by_role("navigation").get_by_role("link", name="Candidature", exact=True).click()
    candidate_page.get_by_role("link", name=f"Ouvrir la candidature à {TITLE}").click()
    with candidate_page.expect_download() as download:
        candidate_page.get_by_role("link", name="Télécharger la lettre").click()
    with open(download.value.path(), "rb") as letter:
        assert letter.read(5) == b"%PDF-"
    assert DecisionLetter.objects.get(application=admitted).file
    candidate_page.get_by_role("link", name="Confirmer", exact=True).click()
    candidate_page.get_by_role("button", name="Confirmer", exact=True).click()
    candidate_page.locator(".message--success", has_text="Vous avez confirmé").wait_for()
    candidate_page.get_by_role("link", name="Désister", exact=True).click()
    assert_no_serious_axe_violations(candidate_page)
    candidate_page.get_by_label("Admis(e) dans une autre formation").check()
    candidate_page.get_by_role("button", name="Désister", exact=True).click()
    candidate_page.locator(".message--success", has_text="Vous vous êtes désisté").wait_for()
    admitted.refresh_from_db()
    assert (admitted.accepted, admitted.withdrawal_reason) == (False, "ADM")

    # The first of the complementary list is admitted and mailed.
    promoted = listed.decisions.validated().newest_first().first()
    assert promoted.decision_type.avis == Avis.FAVOURABLE
    mail = OutboundEmail.objects.get(code="AVIS_FAVORABLE", to=listed.candidate.user.email)
    assert mail.subject == f"{django_settings.EMAIL_SUBJECT_PREFIX}Avis favorable à votre candidature"
