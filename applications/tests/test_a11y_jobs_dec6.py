"""Accessibility fixes of December 6th (a browser review, RGAA/WCAG).

- The pages of work built in the background (a release of decisions, a commission pack, a large export) reloaded
  themselves every 3 s (<meta http-equiv="refresh">) with no way to stop it (RGAA 13.1; WCAG 2.2.1, 2.2.2): the
  focus and the screen reader went back to the top each time and the live region announced nothing, being drawn
  anew. Now static/js/job_progress.js updates only the live region, which says whether the work still runs, and
  offers a pause button (applications/tests/test_browser_job_progress_dec6.py); without JavaScript, « Actualiser ».
- « Créer une candidature pour un candidat »: the « Type » radio buttons are a group named by a legend, described by
  their error (RGAA 11.5, 11.6).
- « Exporter avec les colonnes choisies »: « Cochez au moins une colonne. » describes the groups of columns.
"""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.models import CommissionPack, ExportJob, ReleaseJob
from applications.tests.factories_candidature import make_application
from applications.tests.helpers import EXPORT_COLUMNS_URL
from offers.tests.factories import FormationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("back_office_in_french")]

NOTE = (
    "Avec JavaScript activé, cette page se met à jour d'elle-même toutes les 3 secondes ; sinon, actualisez-la "
    "avec ce lien :"
)
SCRIPT = 'src="/static/js/job_progress.js" defer'


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


def _region(html: str) -> str:
    """The opening tag of the page's live region."""
    match = re.search(r'<section class="module" id="job-progress"[^>]*>', html)
    assert match, "no live region marked for job_progress.js"
    return match.group(0)


def _assert_running_without_reload(html: str, url: str) -> None:
    assert "http-equiv" not in html  # the page no longer reloads itself
    region = _region(html)
    assert 'aria-live="polite"' in region
    assert 'data-job-progress data-job-state="running" data-refresh-seconds="3"' in region
    assert 'data-pause-label="Suspendre l\'actualisation automatique"' in region
    assert 'data-resume-label="Reprendre l\'actualisation automatique"' in region
    assert SCRIPT in html
    # Without JavaScript: said so, and a link that reloads the page, inside the region (gone once the work ends).
    assert f'<p class="help">{NOTE} <a href="{url}">Actualiser</a></p>' in html
    assert html.index(NOTE) > html.index('id="job-progress"')


def _assert_finished(html: str) -> None:
    assert "http-equiv" not in html
    assert 'data-job-state="finished"' in _region(html)
    assert ">Actualiser</a>" not in html
    assert "job_progress.js" not in html


def test_a_release_in_progress_updates_its_region_without_reloading(client, centre_manager, django_assert_num_queries):
    job = ReleaseJob.objects.create(requested_by=centre_manager, application_ids=[], total=0)
    url = reverse("admin:applications_application_release", args=[job.public_id])
    client.force_login(centre_manager)

    # As test_release.test_release_page_is_its_requesters_only: nothing more to draw the markers.
    with django_assert_num_queries(8):
        html = client.get(url).content.decode()

    _assert_running_without_reload(html, url)

    ReleaseJob.objects.filter(pk=job.pk).update(status=ReleaseJob.Status.DONE, finished_at=timezone.now())
    _assert_finished(client.get(url).content.decode())


def test_a_pack_being_built_updates_its_region_without_reloading(
    client, centre_manager, formation, campaign, django_assert_num_queries
):
    application = make_application(formation, campaign=campaign)
    pack = CommissionPack.objects.create(requested_by=centre_manager, application_ids=[application.pk], total=1)
    url = reverse("admin:applications_application_pack", args=[pack.public_id])
    client.force_login(centre_manager)

    # As test_admin_packs.test_pack_page_query_count: session, user, staff checks, savepoints, the pack, its scope,
    # the other packs.
    with django_assert_num_queries(10):
        html = client.get(url).content.decode()

    _assert_running_without_reload(html, url)

    CommissionPack.objects.filter(pk=pack.pk).update(status=CommissionPack.Status.FAILED, error="x")
    _assert_finished(client.get(url).content.decode())


def test_an_export_being_built_updates_its_region_without_reloading(client, centre_manager, django_assert_num_queries):
    job = ExportJob.objects.create(
        requested_by=centre_manager,
        status=ExportJob.Status.RUNNING,
        done=1200,
        total=15000,
        progress_at=timezone.now(),
    )
    url = reverse("admin:applications_application_export_job", args=[job.public_id])
    client.force_login(centre_manager)

    # As test_export_jobs.test_the_job_page_shows_the_progress_then_the_link.
    with django_assert_num_queries(8):
        html = client.get(url).content.decode()

    _assert_running_without_reload(html, url)
    assert re.search(r'<span id="export-count">1\xa0200 / 15\xa0000 ', html)

    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.FAILED)
    _assert_finished(client.get(url).content.decode())


# --- « Créer une candidature pour un candidat » --------------------------------------------------------------------


def test_the_kind_of_application_is_a_group_named_by_its_legend(
    client, centre_manager, formation, django_assert_num_queries
):
    client.force_login(centre_manager)

    # As test_on_behalf.test_page_queries.
    with django_assert_num_queries(8):
        html = client.get(reverse("admin:applications_application_on_behalf")).content.decode()

    assert '<fieldset class="flex-container"><legend>Type</legend>' in html
    assert "<label>Type" not in html  # no label tied to nothing
    assert '<label for="id_numero_dossier">' in html  # the other fields keep their own label


def test_the_kind_of_application_is_described_by_its_error(client, centre_manager, formation):
    client.force_login(centre_manager)

    response = client.post(reverse("admin:applications_application_on_behalf"), {"kind": "other"})

    html = response.content.decode()
    assert response.status_code == 200
    assert '<fieldset class="flex-container" aria-describedby="id_kind_error"><legend>Type</legend>' in html
    assert re.search(r'<ul class="errorlist" id="id_kind_error"><li>Sélectionnez un choix valide', html)
    assert html.count('aria-invalid="true"') >= 2  # Django's own: each radio button of the group


# --- « Exporter avec les colonnes choisies » -----------------------------------------------------------------------


def test_the_missing_column_error_describes_the_groups_of_columns(client, centre_manager, django_assert_num_queries):
    client.force_login(centre_manager)

    with django_assert_num_queries(8):
        page = client.get(reverse(EXPORT_COLUMNS_URL)).content.decode()
    assert 'aria-describedby="columns-errors"' not in page
    assert 'name="columns" value="numero" id="col-numero" aria-invalid' not in page

    html = client.post(reverse(EXPORT_COLUMNS_URL), {"fmt": "csv"}).content.decode()

    assert 'id="columns-errors"' in html
    assert "Cochez au moins une colonne." in html
    groups = html.count('<fieldset class="module aligned export-choices"')
    assert groups > 2
    # Every group of columns, not the format's.
    assert (
        html.count('<fieldset class="module aligned export-choices" aria-describedby="columns-errors">') == groups - 1
    )
    assert '<input type="checkbox" name="columns" value="numero" id="col-numero" aria-invalid="true">' in html
