"""Found by review (screen reader, English and French): a file sent by the upload script (static/js/upload.js,
``X-Upload-Progress``) once the nightly window had started got the maintenance page, HTML, with its 503; the script
expects JSON and said « problème de connexion ou de serveur … Réessayez » in the row, at every retry, and nothing
said the site was closed nor that the maintenance extends no deadline. The same form posted without the script got
the maintenance page's « What you have just sent was not saved … does not extend any deadline ».

The script's answer is now the project's one for its uploads (``applications.views_pieces._done``): JSON, the
address of the page to open (``location``: the page the file was sent from, or the dossier), the message left for
that page. Still 503 with ``Retry-After`` and ``no-store``, and no ``retry_after`` in the body: the script would
send the file again by itself when it reads one (the saturation's answer), hours later here. The page it opens is
answered by the maintenance, which shows the message in the page's language.

The test settings turn the window off: these tests turn it on (the ``maintenance_window`` fixture)."""

import html

import pytest
import time_machine
from django.urls import reverse

from applications.models import PieceSubmission
from applications.tests.helpers import paris, upload_url
from documents.models import Document
from documents.tests import hostile_files as hostile
from ecandidat.maintenance import forget_switch, switch_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("maintenance_window")]

IN_THE_WINDOW = paris(2027, 5, 3, 22, 50)
UNTIL_SIX = 7 * 3600 + 10 * 60  # 22:50 to 06:00

NOT_SAVED = {
    "en": (
        "What you have just sent was not saved: the site was already closed for maintenance when it arrived. If your "
        "deadline has not passed by then, send it again once the maintenance is over: the maintenance does not "
        "extend any deadline."
    ),
    "fr": (
        "Ce que vous venez d'envoyer n'a pas été enregistré : le site était déjà fermé pour maintenance quand votre "
        "envoi est arrivé. Si votre date limite n'est pas passée d'ici là, envoyez-le de nouveau une fois la "
        "maintenance terminée : la maintenance ne repousse aucune date limite."
    ),
}
WINDOW = {
    "en": "The application is unavailable for maintenance every day from 22:45 to 06:00",
    "fr": "L'application est indisponible pour cause de maintenance tous les jours de 22h45 à 06h",
}

# The upload refused by the maintenance: the session, the candidate's account (the message goes in its cookie).
QUERIES_REFUSED_UPLOAD = 2
# The page it opens, answered by the maintenance: the session, the candidate's account.
QUERIES_MAINTENANCE_PAGE = 2


@pytest.fixture(autouse=True)
def _evening():
    forget_switch()
    switch_state()  # read once (one query), then from this process's memory, as on the server
    with time_machine.travel(paris(2027, 5, 3, 22, 30), tick=False):  # the login: the session is 20 minutes old
        yield


def _send_by_script(client, application, piece, *, referer: str | None, language: str):
    headers = {"X-Upload-Progress": "1", "X-Upload-Retries-Left": "5"}
    if referer is not None:
        headers["Referer"] = referer
    return client.post(
        upload_url(application, piece), {"file": hostile.valid_pdf_upload()}, headers=headers, language=language
    )


def _said(response, text: str) -> int:
    """How many times the page says ``text`` (the template's own words keep their apostrophes, a message's are
    escaped)."""
    return html.unescape(response.content.decode()).count(text)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_upload_by_the_script_in_the_window_opens_the_maintenance_page_that_says_it_was_not_saved(
    owner, application, piece, language, django_assert_num_queries
):
    pieces_page = reverse("pieces:pieces", args=[application.public_id])

    with time_machine.travel(IN_THE_WINDOW, tick=False), django_assert_num_queries(QUERIES_REFUSED_UPLOAD):
        refused = _send_by_script(
            owner, application, piece, referer=f"http://testserver{pieces_page}?x=1", language=language
        )

    assert refused.status_code == 503
    assert refused["Content-Type"] == "application/json"
    assert refused.json() == {"location": f"{pieces_page}?x=1"}  # no retry_after: the script would send it again
    assert refused["Retry-After"] == str(UNTIL_SIX)
    assert "no-store" in refused["Cache-Control"]
    assert not Document.objects.exists()
    assert not PieceSubmission.objects.exists()

    with time_machine.travel(IN_THE_WINDOW, tick=False), django_assert_num_queries(QUERIES_MAINTENANCE_PAGE):
        page = owner.get(refused.json()["location"], language=language)

    assert page.status_code == 503
    assert _said(page, NOT_SAVED[language]) == 1
    assert _said(page, WINDOW[language]) == 1
    # Said once: the next page of the window does not repeat it.
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        again = owner.get(refused.json()["location"], language=language)
    assert again.status_code == 503
    assert _said(again, NOT_SAVED[language]) == 0


@pytest.mark.parametrize(
    "referer",
    [
        None,
        "https://elsewhere.example/candidat/",
        "//elsewhere.example/candidat/",
        "https://testserver/candidat/",  # the site is http:// here: not the same origin
        "http://testserver//elsewhere.example/candidat/",  # its path alone would be another site's address
        "http://testserver/\\elsewhere.example/candidat/",
        "javascript:alert(1)",
        "not a url at all",
        "http://[testserver/candidat/",  # urlsplit refuses it (ValueError): not a 500
    ],
)
def test_a_referer_from_elsewhere_or_none_sends_the_script_to_the_dossier(owner, application, piece, referer):
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        refused = _send_by_script(owner, application, piece, referer=referer, language="en")

    assert refused.status_code == 503
    assert refused.json() == {"location": reverse("applications:start")}

    with time_machine.travel(IN_THE_WINDOW, tick=False):
        page = owner.get(refused.json()["location"], language="en")

    assert page.status_code == 503
    assert _said(page, NOT_SAVED["en"]) == 1


def test_the_same_form_posted_without_the_script_still_gets_the_maintenance_page(owner, application, piece):
    with time_machine.travel(IN_THE_WINDOW, tick=False):
        response = owner.post(upload_url(application, piece), {"file": hostile.valid_pdf_upload()}, language="fr")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert _said(response, NOT_SAVED["fr"]) == 1
    assert not Document.objects.exists()
