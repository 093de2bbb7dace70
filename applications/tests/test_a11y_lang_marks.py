"""Texts in another language than the page's are marked with theirs (RGAA 8.7), and the candidate's tables carry a
caption (RGAA 5.4): the mails of the release preview in the mail's language, the central office's French words in
the back office home's latest actions, a caption on each of the candidate's tables."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pytest_django.asserts import assertContains

from applications.admin.review import history_line
from applications.enums import EventKind
from applications.models import ApplicationEvent
from applications.services import staff
from applications.tests.factories import (
    ExternalCursusFactory,
    InternalCursusFactory,
    InternshipFactory,
    WorkExperienceFactory,
)
from applications.tests.factories_candidature import ApplicationFactory, DecisionTypeFactory, make_application
from offers.enums import Avis
from offers.models import ComplementaryForm
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:applications_application_changelist"


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Master Informatique")


@pytest.fixture
def favourable():
    """A decision type as the central office types it: in French."""
    return DecisionTypeFactory(
        code="AVIS_FAVORABLE",
        label="Type de décision favorable",
        candidate_label="Avis favorable",
        avis=Avis.FAVOURABLE,
        mail_code="AVIS_FAVORABLE",
    )


# --- the release preview: each mail in its language -------------------------------------------------------------


def preview_page(client, applications):
    return client.post(
        reverse(CHANGELIST),
        {"action": "action_validate_decisions", "_selected_action": [a.pk for a in applications]},
    )


def test_the_release_preview_marks_a_french_mail_french_on_an_english_page(
    client, formation, campaign, commission_member, centre_manager, favourable, django_assert_num_queries
):
    application = make_application(formation, campaign=campaign)  # a candidate reading French, the default
    staff.record_decision(application, decision_type=favourable, actor=commission_member)
    client.force_login(centre_manager)

    with django_assert_num_queries(36):  # as test_release's preview of one application
        response = preview_page(client, [application])

    assertContains(response, '<html lang="en"')
    [mail] = response.context["release_previews"][0].mails
    assertContains(response, f'<dd lang="fr">{escape(mail.subject)}</dd>')
    assertContains(response, '<div class="release-mail-body" lang="fr">')
    assertContains(response, "<dd>" + escape(mail.to) + "</dd>")  # an address: no language


def test_the_release_preview_marks_each_mail_with_its_own_language(
    client, formation, campaign, commission_member, centre_manager, favourable, django_assert_num_queries
):
    """The candidate reads English; the centre's copy is in the institution's language, French."""
    formation.centre.candidate_mail_copy = "M"
    formation.centre.email = "scolarite@univ.example"
    formation.centre.save()
    application = make_application(formation, campaign=campaign)
    application.candidate.preferred_language = "en"
    application.candidate.save()
    staff.record_decision(application, decision_type=favourable, actor=commission_member)
    client.force_login(centre_manager)

    with django_assert_num_queries(
        38
    ):  # the centre's copy: its French template looked up, its outbox row (rolled back)
        response = preview_page(client, [application])

    to_candidate, copy = response.context["release_previews"][0].mails
    assert (to_candidate.to, copy.to) == (application.candidate.user.email, "scolarite@univ.example")
    assert to_candidate.subject != copy.subject  # each written in its own language
    assertContains(response, f'<dd lang="en">{escape(to_candidate.subject)}</dd>')
    assertContains(response, f'<dd lang="fr">{escape(copy.subject)}</dd>')
    assertContains(response, '<div class="release-mail-body" lang="en">', count=1)
    assertContains(response, '<div class="release-mail-body" lang="fr">', count=1)


# --- the back office's home: the latest actions --------------------------------------------------------------------


def test_the_latest_actions_mark_the_decision_types_label_french_on_an_english_page(
    client, formation, campaign, centre_manager, favourable, django_assert_num_queries
):
    application = make_application(formation, campaign=campaign)
    staff.record_decision(application, decision_type=favourable, actor=centre_manager)
    client.force_login(centre_manager)

    with django_assert_num_queries(12):  # as test_admin_home's QUERIES_HOME (no piece named: no label query)
        response = client.get(reverse("admin:index"))

    assertContains(response, '<html lang="en"')
    assertContains(response, 'Decision entered: <span lang="fr">Type de décision favorable</span>')


@pytest.mark.parametrize(
    ("kind", "comment", "marked"),
    [
        (EventKind.DECISION_VALIDATED, "Type de décision favorable", True),
        (EventKind.DECISION_DELETED, "Type de décision favorable", True),
        (EventKind.WAITING_LIST_PROMOTION, "Type de décision favorable", True),
        (EventKind.TREATMENT_TYPE, "Formation à capacité limitée → Accès direct — dossier papier", True),
        # Written in the institution's language whoever answered (applications.services.questions, since 2026-12-05).
        (EventKind.QUESTIONS_ANSWERED, "2 réponses modifiées", True),
    ],
)
def test_a_history_line_marks_french_only_the_comments_written_in_french(
    formation, campaign, centre_manager, kind, comment, marked
):
    application = make_application(formation, campaign=campaign)
    event = ApplicationEvent(
        application=application, kind=kind, actor=centre_manager, comment=comment, created_at=timezone.now()
    )

    text = history_line(event, {}, with_actor=False).text

    shown = escape(comment)
    assert text.endswith(f': <span lang="fr">{shown}</span>' if marked else f": {shown}")


# --- the candidate's tables: each with a caption ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url_name", "factory", "caption"),
    [
        ("applications:external_cursus_list", ExternalCursusFactory, "External cursus"),
        ("applications:internship_list", InternshipFactory, "Internships"),
        ("applications:work_experience_list", WorkExperienceFactory, "Work experience"),
        ("applications:internal_cursus", InternalCursusFactory, "Internal cursus"),
    ],
)
def test_the_candidates_lists_have_a_caption(
    owner_client, candidate, url_name, factory, caption, django_assert_num_queries
):
    factory(candidate=candidate)

    with django_assert_num_queries(6):  # session, user; the dossier and its rows inside the request's savepoint
        response = owner_client.get(reverse(url_name))

    assertContains(response, '<table class="table" role="table">')
    assertContains(response, f'<caption class="visually-hidden">{caption}</caption>', count=1)


def test_the_complementary_forms_table_has_a_caption(owner_client, candidate, formation, django_assert_num_queries):
    application = ApplicationFactory(candidate=candidate, formation=formation)
    form = ComplementaryForm.objects.create(
        code="F1", survey_id=1, label="Q", candidate_label="Questionnaire", url="https://x"
    )
    formation.forms.add(form)

    with django_assert_num_queries(8):  # as test_forms_actions' recap
        response = owner_client.get(reverse("applications:detail", args=[application.public_id]))

    assertContains(response, '<table class="table forms__table" role="table">')
    assertContains(response, '<caption class="visually-hidden">Complementary forms</caption>', count=1)
