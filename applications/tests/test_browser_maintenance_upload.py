"""A file sent through the pieces table once the nightly window has started (review, screen reader, French and
English): static/js/upload.js got the HTML maintenance page with its 503, read it as a failure of the line, and said
in the row « problème de connexion ou de serveur … Réessayez », at every try; nothing said the site was closed nor
that the maintenance extends no deadline. The maintenance now answers the script in its own terms
(ecandidat.maintenance._upload_script_answer): the script opens the page the file was sent from, answered by the
maintenance page, which says that the file was not saved and that the maintenance extends no deadline.

The window is made to start one minute before now once the page is open (the test settings turn it off)."""

import datetime
import re

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from playwright.sync_api import expect

from applications.models import Application, PieceSubmission
from applications.tests.factories_candidature import complete_candidate
from documents.models import Document
from documents.tests.hostile_files import pdf_bytes
from ecandidat.maintenance import forget_switch
from ecandidat.tests.plugins.browser import assert_no_serious_axe_violations, log_in_browser
from offers.tests.factories import FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.browser

NOT_SAVED = {
    "fr": (
        "Ce que vous venez d'envoyer n'a pas été enregistré : le site était déjà fermé pour maintenance quand votre "
        "envoi est arrivé. Si votre date limite n'est pas passée d'ici là, envoyez-le de nouveau une fois la "
        "maintenance terminée : la maintenance ne repousse aucune date limite."
    ),
    "en": (
        "What you have just sent was not saved: the site was already closed for maintenance when it arrived. If your "
        "deadline has not passed by then, send it again once the maintenance is over: the maintenance does not "
        "extend any deadline."
    ),
}
UNAVAILABLE = {
    "fr": "indisponible pour cause de maintenance tous les jours",
    "en": "unavailable for maintenance every day",
}
FAILED = {"fr": "problème de connexion ou de serveur", "en": "connection or server problem"}


@pytest.fixture
def window_from_now(settings):
    """Starts the nightly window one minute before now (for two hours), once called."""

    def start() -> None:
        now = timezone.localtime()
        begins, ends = now - datetime.timedelta(minutes=1), now + datetime.timedelta(hours=2)
        settings.MAINTENANCE_START = datetime.time(begins.hour, begins.minute)
        settings.MAINTENANCE_END = datetime.time(ends.hour, ends.minute)
        settings.MAINTENANCE_WINDOW_ENFORCED = True
        forget_switch()

    return start


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_file_sent_in_the_window_ends_on_the_maintenance_page_that_says_it_was_not_saved(
    live_server, transactional_db, browser_page, campaign, window_from_now, language
):
    formation = FormationFactory()
    piece = PieceTypeFactory(is_common=True, is_unique=True, label="Relevé de notes")
    candidate = complete_candidate(user__campaign=campaign)
    application = Application.objects.create(
        candidate=candidate, formation=formation, campaign=campaign, created_by=candidate.user
    )
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 812})
    log_in_browser(page, live_server, candidate.user)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    dossier = f"/candidat/candidatures/{application.public_id}/"
    page.goto(live_server.url + dossier)
    expect(page.locator(f"#file-{piece.pk}")).to_be_visible()
    stored_before = default_storage.listdir("")  # the storage is the process's memory: earlier tests' files
    answers = []
    page.on(
        "response", lambda response: answers.append(response.status) if response.request.method == "POST" else None
    )

    window_from_now()
    page.locator(f"#file-{piece.pk}").set_input_files(
        {"name": "releve.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}
    )
    page.locator(f'#piece-{piece.pk} button[type="submit"]').click()

    main = page.locator("main")
    expect(page.get_by_role("heading", level=1)).to_have_text("Maintenance")
    expect(main).to_contain_text(NOT_SAVED[language])
    expect(main).to_contain_text(UNAVAILABLE[language])
    assert FAILED[language] not in page.content()
    assert re.fullmatch(rf"{re.escape(live_server.url + dossier)}#?", page.url)  # the page it was sent from
    assert answers == [503]  # sent once: not sent again by itself
    assert page.title().startswith("Erreur" if language == "fr" else "Error")
    assert_no_serious_axe_violations(page)
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.exists()
    assert default_storage.listdir("") == stored_before
