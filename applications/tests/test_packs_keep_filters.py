"""The commission packs keep the list's filters (review, 2026-12): asked for from a filtered and sorted list, the
pack's page (while it is built, and once built) and the piece pack's form lead back to that list, as the bulk
« Saisir un avis » page and the export with chosen columns do; never anywhere but the list."""

import html
import re
from urllib.parse import urlencode

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from applications.enums import PieceStatus
from applications.models import CommissionPack
from applications.tests.factories_candidature import DocumentFactory, PieceSubmissionFactory, make_application
from documents.enums import ScanStatus
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

CHANGELIST = "admin:applications_application_changelist"
PACK = "admin:applications_application_pack"


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.fixture
def cv(formation):
    piece = PieceTypeFactory(code="CV", label="Curriculum vitae")
    formation.piece_types.add(piece)
    return piece


@pytest.fixture
def dossiers(formation, campaign, cv):
    applications = [make_application(formation, campaign=campaign) for _ in range(2)]
    for application in applications:
        stored = default_storage.save("C/cv.pdf", ContentFile(f"%PDF-1.4 {application.pk}".encode()))
        document = DocumentFactory(
            file=stored, original_name="cv.pdf", scan_status=ScanStatus.CLEAN, uploaded_by=application.candidate.user
        )
        PieceSubmissionFactory(
            application=application,
            candidate=application.candidate,
            piece_type=cv,
            status=PieceStatus.SUBMITTED,
            document=document,
        )
    return applications


@pytest.fixture
def filters(formation):
    """The list filtered (no decision yet, one formation) and sorted, as the commission reads it."""
    return f"decision=none&formation={formation.pk}&o=1"


def post_action(client, filters, action, applications, **data):
    return client.post(
        f"{reverse(CHANGELIST)}?{filters}",
        {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in applications], **data},
    )


def breadcrumb_list_link(page: str) -> str:
    """The href of the breadcrumb's « Candidatures » (the second link of the trail)."""
    trail = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', page, re.DOTALL)
    assert trail is not None
    links = re.findall(r'<a href="([^"]*)"', trail.group(1))
    assert len(links) == 2
    return html.unescape(links[1])


def cancel_link(page: str) -> str:
    found = re.search(r'<a href="([^"]*)" class="button cancel-link">', page)
    assert found is not None
    return html.unescape(found.group(1))


def reload_link(page: str) -> str:
    found = re.search(r'<a href="([^"]*)">Actualiser</a>', page)
    assert found is not None
    return html.unescape(found.group(1))


@pytest.mark.parametrize("action", ["commission_pack_action", "commission_pack_pdf_action"])
def test_the_pack_page_leads_back_to_the_filtered_list(
    client, commission_member, dossiers, filters, action, django_assert_num_queries
):
    client.force_login(commission_member)

    with django_assert_num_queries(20):
        response = post_action(client, filters, action, dossiers)

    pack = CommissionPack.objects.get()
    assert response.status_code == 302
    assert response["Location"] == (
        reverse(PACK, args=[pack.public_id]) + "?" + urlencode({"_changelist_filters": filters})
    )
    with django_assert_num_queries(10):  # as without the filters: they are only read from the address
        page = client.get(response["Location"]).content.decode()
    # The build is still waiting (its task not run): the page of a job running, reloaded with the filters too.
    assert 'data-job-state="running"' in page
    assert breadcrumb_list_link(page) == f"{reverse(CHANGELIST)}?{filters}"
    assert reload_link(page) == response["Location"]


def test_the_piece_pack_form_and_its_pack_lead_back_to_the_filtered_list(
    client, commission_member, dossiers, filters, cv, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client.force_login(commission_member)
    list_url = f"{reverse(CHANGELIST)}?{filters}"

    with django_assert_num_queries(20):
        form_page = post_action(client, filters, "piece_pack_action", dossiers).content.decode()

    assert breadcrumb_list_link(form_page) == list_url
    assert cancel_link(form_page) == list_url
    assert '<form method="post" novalidate>' in form_page  # sent back to the list's address, filters and all
    refused = post_action(client, filters, "piece_pack_action", dossiers, apply="1").content.decode()
    assert (breadcrumb_list_link(refused), cancel_link(refused)) == (list_url, list_url)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(client, filters, "piece_pack_action", dossiers, apply="1", piece_type=cv.pk)

    pack = CommissionPack.objects.get()
    assert (pack.kind, pack.status) == ("PIE", "DONE")
    assert response["Location"] == (
        reverse(PACK, args=[pack.public_id]) + "?" + urlencode({"_changelist_filters": filters})
    )
    with django_assert_num_queries(10):
        page = client.get(response["Location"]).content.decode()
    assert 'data-job-state="finished"' in page
    assert breadcrumb_list_link(page) == list_url


def test_a_pack_asked_for_from_the_whole_list_leads_back_to_it(
    client, commission_member, dossiers, django_capture_on_commit_callbacks
):
    client.force_login(commission_member)

    response = client.post(
        reverse(CHANGELIST), {"action": "commission_pack_action", ACTION_CHECKBOX_NAME: [a.pk for a in dossiers]}
    )

    pack = CommissionPack.objects.get()
    assert response["Location"] == reverse(PACK, args=[pack.public_id])
    assert breadcrumb_list_link(client.get(response["Location"]).content.decode()) == reverse(CHANGELIST)


@pytest.mark.parametrize("hostile", ["//evil.example/x", "https://evil.example/", "\\\\evil.example", '"><b>x</b>'])
def test_the_filters_only_ever_lead_to_the_list(client, commission_member, dossiers, hostile):
    pack = CommissionPack.objects.create(
        requested_by=commission_member, application_ids=[a.pk for a in dossiers], total=len(dossiers)
    )
    client.force_login(commission_member)

    page = client.get(reverse(PACK, args=[pack.public_id]), {"_changelist_filters": hostile}).content.decode()

    assert breadcrumb_list_link(page).startswith(reverse(CHANGELIST))
    assert "<b>x</b>" not in page
    other = CommissionPack.objects.create(requested_by=commission_member, application_ids=[dossiers[0].pk], total=1)
    page = client.get(reverse(PACK, args=[other.public_id]), {"_changelist_filters": hostile}).content.decode()
    # The other pack's link in « Mes autres lots » carries the filters encoded, inside the pack's address.
    assert f'href="{reverse(PACK, args=[pack.public_id])}' in page
    assert "<b>x</b>" not in page
