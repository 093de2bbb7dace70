"""The commission's back office read in English marks the staff's French labels ``lang="fr"`` (RGAA 8.7), as the
dossier page does: the formations' titles, the centres', commissions' and campaigns' names and the decision types in
the applications list (its filters and cells), the decision form, the dashboard, the home page and the packs; with
the same number of queries. A selection box of the list is named after its row, not « 5 → 3 »."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from applications.enums import DossierStatus
from applications.models import CommissionPack
from applications.services import staff
from applications.tests.factories_candidature import decision_type, make_application
from applications.tests.helpers import operation_url
from offers.enums import Avis
from offers.models import DecisionLetterTemplate, RefusalReason
from offers.tests.factories import CampaignFactory, DiplomaTypeFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.django_db

APPLICATIONS = reverse("admin:applications_application_changelist")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER", title="Master Énergie")


@pytest.fixture
def decided(formation, campaign, centre_manager):
    application = make_application(formation, campaign=campaign, status=DossierStatus.COMPLETE)
    staff.record_decision(application, decision_type=decision_type(Avis.FAVOURABLE), actor=centre_manager)
    return application


def test_the_applications_list_marks_the_french_labels_of_its_filters_and_cells(
    client, commission_member, centre, campaign, decided, django_assert_num_queries
):
    CampaignFactory(label="Campagne 2025-2026")  # two campaigns: the list's campaign filter shows
    label = decided.decisions.get().decision_type.label
    client.force_login(commission_member)
    client.get(APPLICATIONS)  # per-process memos warm

    with django_assert_num_queries(23):
        page = client.get(APPLICATIONS).content.decode()

    assert f'<a href="?campaign__id__exact={campaign.pk}"><span lang="fr">{campaign.label}</span> (active)</a>' in page
    assert f'<a href="?centre={centre.pk}"><span lang="fr">{centre.label}</span></a>' in page
    assert f'<a href="?formation={decided.formation.pk}"><span lang="fr">M1ENER – Master Énergie</span></a>' in page
    assert f'<span class="card-value"><span lang="fr">{label}</span> (to validate)</span>' in page
    assert '<a href="?">All</a>' in page  # the page's own words are not marked
    # The selection box says whose application it selects.
    candidate = decided.candidate
    assert (
        f'aria-label="Select this object for an action - {candidate.staff_name} ({candidate.user.username}, M1ENER)"'
    ) in page


def test_the_counts_of_the_filters_stay_outside_the_french_label(client, commission_member, centre, decided):
    client.force_login(commission_member)

    page = client.get(APPLICATIONS, {"_facets": "True"}).content.decode()

    assert f'<span lang="fr">{centre.label}</span> (1)</a>' in page
    assert '<span lang="fr">M1ENER – Master Énergie</span> (1)</a>' in page


def test_the_decision_form_marks_the_decision_types_the_reasons_and_the_formation(
    client, commission_member, decided, django_assert_num_queries
):
    reason = RefusalReason.objects.create(code="PRE", label="Prérequis non satisfaits")
    unfavourable = decision_type(Avis.UNFAVOURABLE)
    label = decided.decisions.get().decision_type.label
    client.force_login(commission_member)
    url = operation_url(decided, "enter_decision")
    client.get(url)

    with django_assert_num_queries(12):
        english = client.get(url).content.decode()
    french = client.get(url, language="fr").content.decode()

    assert f'<option value="{unfavourable.pk}" lang="fr" data-avis="DE">{unfavourable.label}</option>' in english
    assert f'<option value="{reason.pk}" lang="fr">Prérequis non satisfaits</option>' in english
    assert f'<p><strong lang="fr">{label}</strong>' in english  # the latest decision
    assert '– M1ENER <span lang="fr">Master Énergie</span></li>' in english
    # A French page needs no mark on its options: the page already is French.
    assert f'<option value="{unfavourable.pk}" data-avis="DE">' in french


def test_the_dashboard_marks_the_campaign_the_centres_and_the_titles(
    client, centre_manager, centre, campaign, decided, django_assert_num_queries
):
    client.force_login(centre_manager)
    url = reverse("admin:applications_application_dashboard")

    with django_assert_num_queries(10):
        page = client.get(url, {"centre": centre.pk}).content.decode()

    assert f'<option value="{campaign.pk}" lang="fr" selected>{campaign.label}</option>' in page
    assert f'<option value="{centre.pk}" lang="fr" selected>{centre.label}</option>' in page
    assert (
        f'<span>Applications per formation — <span lang="fr">{campaign.label}</span> — '
        f'<span lang="fr">{centre.label}</span></span></caption>'
    ) in page
    assert '<td class="title" lang="fr">Master Énergie</td>' in page


def test_the_home_page_marks_the_campaign(client, commission_member, campaign, decided, django_assert_num_queries):
    client.force_login(commission_member)

    page = client.get(reverse("admin:index")).content.decode()

    assert f'My applications — <span lang="fr">{campaign.label}</span></h2>' in page
    # A bar's tooltip is punctuated in English (« 3 Dec 2026: 1 »), not with the French space before the colon.
    assert re.search(r"<title>\d{1,2} \w{3} \d{4}: 1</title>", page)


def test_the_piece_pack_names_its_piece_in_french(client, commission_member, formation, campaign, decided):
    piece = PieceTypeFactory(code="CV", label="Curriculum vitae")
    formation.piece_types.add(piece)
    client.force_login(commission_member)

    choice = client.post(
        APPLICATIONS, {"action": "piece_pack_action", ACTION_CHECKBOX_NAME: [decided.pk], "index": 0}
    ).content.decode()
    client.post(
        APPLICATIONS,
        {"action": "piece_pack_action", ACTION_CHECKBOX_NAME: [decided.pk], "apply": "1", "piece_type": piece.pk},
    )
    pack = CommissionPack.objects.get()
    page = client.get(reverse("admin:applications_application_pack", args=[pack.public_id])).content.decode()

    assert f'<option value="{piece.pk}" lang="fr">Curriculum vitae</option>' in choice
    assert '(ZIP of one piece of each dossier: <span lang="fr">Curriculum vitae</span>)' in page


@pytest.mark.parametrize(("language", "label"), [("en", "Piece:"), ("fr", "Pièce\u00a0:")])
def test_the_piece_packs_choice_is_labelled_in_the_readers_language(
    client, read_only_staff, formation, campaign, decided, language, label, django_assert_num_queries
):
    """The field's label was translated once, when the module was imported: « Pièce: » on the English page."""
    client.force_login(read_only_staff)
    data = {"action": "piece_pack_action", ACTION_CHECKBOX_NAME: [decided.pk], "index": 0}
    client.post(APPLICATIONS, data, language=language)  # per-process memos warm

    # session, user, scope, the list's (filters, counters, saved filters), the selection, the pieces asked for
    with django_assert_num_queries(QUERIES_PIECE_CHOICE):
        response = client.post(APPLICATIONS, data, language=language)

    assert response.status_code == 200
    assert f'<label for="id_piece_type">{label}</label>' in response.content.decode()


QUERIES_PIECE_CHOICE = 18


# --- the training offer's lists and the decision letters (a manager of some commissions, a centre manager) --------


def test_the_formations_list_marks_its_french_columns_and_filters(
    client, limited_manager, formation, django_assert_num_queries
):
    DiplomaTypeFactory(code="LP", label="LICENCE PRO")  # two types: the list's diploma type filter shows
    url = reverse("admin:offers_formation_changelist")
    client.force_login(limited_manager)
    client.get(url)

    with django_assert_num_queries(11):
        page = client.get(url).content.decode()

    assert 'data-label="Title" lang="fr" class="field-title">Master Énergie</td>' in page
    assert f'data-label="Centre" lang="fr" class="field-centre nowrap">{formation.centre.label}</td>' in page
    assert f'data-label="Commission" lang="fr" class="field-commission nowrap">{formation.commission}</td>' in page
    assert '<span lang="fr">MASTER LMD</span></a>' in page
    assert '<span lang="fr">LICENCE PRO</span></a>' in page
    assert 'data-label="Code" class="field-code">' in page  # a code is no French text


def test_the_commissions_list_marks_their_names(client, limited_manager, commission):
    client.force_login(limited_manager)

    page = client.get(reverse("admin:offers_commission_changelist")).content.decode()

    assert f'data-label="Label" lang="fr" class="field-label">{commission.label}</td>' in page


@pytest.fixture
def centre_letter(centre):
    return DecisionLetterTemplate.objects.create(
        kind="LETTRE_REFUS", centre=centre, title="Lettre de refus", body="Madame, Monsieur,", signatory="Le directeur"
    )


def test_the_letter_text_box_is_marked_french_in_the_english_back_office(client, centre_manager, centre_letter):
    url = reverse("admin:offers_decisionlettertemplate_change", args=[centre_letter.pk])
    client.force_login(centre_manager)

    english = client.get(url).content.decode()
    french = client.get(url, language="fr").content.decode()

    assert re.search(r'<textarea name="body"[^>]* lang="fr"', english)
    assert re.search(r'<input type="text" name="title"[^>]* lang="fr"', english)
    assert re.search(r'<input type="text" name="signatory"[^>]* lang="fr"', english)
    assert not re.search(r'<textarea name="body"[^>]* lang=', french)  # the French page already is


def test_a_letter_read_only_is_marked_french_too(client, limited_manager, centre_letter):
    """A manager of some commissions reads the centre's letter (its fields read-only): its text keeps its language."""
    client.force_login(limited_manager)

    page = client.get(reverse("admin:offers_decisionlettertemplate_change", args=[centre_letter.pk])).content.decode()
    listed = client.get(reverse("admin:offers_decisionlettertemplate_changelist")).content.decode()

    assert '<div class="readonly"><span lang="fr">Madame, Monsieur,</span></div>' in page
    assert '<div class="readonly"><span lang="fr">Lettre de refus</span></div>' in page
    assert 'data-label="Title" lang="fr" class="field-title">Lettre de refus</td>' in listed


def test_a_commissions_name_is_typed_in_french(client, centre_manager, commission):
    """The commission's name has no English version: its input is marked French in the English back office."""
    url = reverse("admin:offers_commission_change", args=[commission.pk])
    client.force_login(centre_manager)

    editable = client.get(url).content.decode()

    assert re.search(r'<input type="text" name="label"[^>]* lang="fr"', editable)
