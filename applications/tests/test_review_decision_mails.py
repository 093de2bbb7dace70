"""The mails about a decision on the application's page: a decision mail the mail server refused for good was seen
only in « Mails sortants », which only the central office opens; the centre went on waiting for an answer the
candidate never had. The page lists them with their state, in one query, and none before a decision is
validated."""

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.notifications import decision_topic
from applications.services import staff
from applications.tests.factories_candidature import decide, decision_type, make_application
from applications.tests.helpers import REVIEW_PAGE_QUERIES, change_url
from ecandidat.models import OutboundEmail
from offers.enums import Avis
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

REFUSED = "(550, b'5.1.1 <camille@example.org>: Recipient address rejected')"


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def application(formation, campaign):
    return make_application(formation, campaign=campaign)


def _refused(application) -> OutboundEmail:
    """The application's first decision mail, refused for good by the mail server."""
    mail = OutboundEmail.objects.filter(topic=decision_topic(application)).order_by("created_at", "pk")[0]
    mail.status, mail.attempts, mail.last_error = OutboundEmail.Status.FAILED, 1, REFUSED
    mail.save(update_fields=["status", "attempts", "last_error"])
    return mail


@pytest.mark.parametrize("decisions", [1, 3])
def test_a_refused_decision_mail_is_said_to_the_centre_in_one_query(
    client, django_assert_num_queries, centre_manager, application, decisions
):
    for _ in range(decisions):
        decide(application, Avis.FAVOURABLE, actor=centre_manager)
    mail = _refused(application)
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES + 1):  # the mails, whatever their number
        page = client.get(change_url(application), language="fr").content.decode()

    mails = page[page.index('<h3 id="decision-mails-title">') : page.index("</ul>", page.index("decision-mails"))]
    assert "Mails sur la décision" in mails
    assert mails.count("<li") == OutboundEmail.objects.filter(topic=decision_topic(application)).count()
    failed = mails[mails.index('class="review-mail-failed"') :]
    assert "<strong>échec</strong>" in failed
    assert "le candidat ne l'a pas reçu." in failed
    assert "Le service central peut le renvoyer une fois la cause corrigée : prévenez-le." in failed
    assert "Recipient address rejected" in failed
    assert mail.to in failed
    assert reverse("admin:ecandidat_outboundemail_change", args=[mail.pk]) not in page  # a 403 for the centre


def test_the_central_office_gets_the_link_to_send_it_again(client, centre_manager, central_manager, application):
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    mail = _refused(application)
    client.force_login(central_manager)

    page = client.get(change_url(application), language="fr").content.decode()

    link = reverse("admin:ecandidat_outboundemail_change", args=[mail.pk])
    assert f'<a href="{link}">L\'ouvrir dans « Mails sortants » pour le renvoyer</a>' in page


def test_nothing_is_read_before_a_decision_is_validated(
    client, django_assert_num_queries, centre_manager, application
):
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    client.force_login(centre_manager)

    with django_assert_num_queries(REVIEW_PAGE_QUERIES):
        page = client.get(change_url(application), language="fr").content.decode()

    assert "Mails sur la décision" not in page


def test_another_applications_mails_are_not_listed(client, centre_manager, formation, application, campaign):
    other = make_application(formation, campaign=campaign)
    decide(other, Avis.FAVOURABLE, actor=centre_manager)
    _refused(other)
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    client.force_login(centre_manager)

    page = client.get(change_url(application), language="fr").content.decode()

    assert "review-mail-failed" not in page
    assert other.candidate.user.email not in page


def test_a_refused_centre_copy_is_not_said_to_be_the_candidates(client, centre, centre_manager, application):
    """The centre's copy shares the decision's topic: its failure named the candidate, who had their mail."""
    centre.candidate_mail_copy, centre.email = "M", "scol-centre@example.org"
    centre.save(update_fields=["candidate_mail_copy", "email"])
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    mails = OutboundEmail.objects.filter(topic=decision_topic(application))
    mails.filter(to=application.candidate.user.email).update(status=OutboundEmail.Status.SENT, sent_at=timezone.now())
    mails.filter(to=centre.email).update(status=OutboundEmail.Status.FAILED, last_error=REFUSED)
    client.force_login(centre_manager)

    page = client.get(change_url(application), language="fr").content.decode()

    failed = page[page.index('class="review-mail-failed"') :]
    assert "<strong>échec</strong> : non remis à scol-centre@example.org." in failed
    assert "le candidat ne l'a pas reçu" not in page
    assert "<strong>envoyé</strong> (" in page  # the space before the date kept


def test_each_subject_is_marked_in_its_own_language(client, centre_manager, application):
    application.candidate.preferred_language = "en"
    application.candidate.save(update_fields=["preferred_language"])
    decide(application, Avis.FAVOURABLE, actor=centre_manager)
    subject = OutboundEmail.objects.get(topic=decision_topic(application), to=application.candidate.user.email).subject
    client.force_login(centre_manager)

    page = client.get(change_url(application), language="fr").content.decode()

    assert f'<span lang="en">{subject}</span>' in page
