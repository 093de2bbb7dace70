"""« Lettres de décision »: a saved letter's change page has « Prévisualiser (PDF) », which renders the letter as PDF
with the letters' sample values (``offers.letters.sample_values``: the variables' own samples, as the mails' preview
uses), so that its layout, signatory and variables can be checked before any decision is released. Whoever may read
the letter gets it; another centre's manager gets the 404 of the back office's rows, a visitor the login page."""

import io

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from offers.letters import LETTER_TYPES
from offers.models import DecisionLetterTemplate
from offers.tests.factories import FormationFactory

pytestmark = pytest.mark.django_db

TITLE = "Admission de ${first_name} ${last_name}"
BODY = (
    "Madame, Monsieur ${last_name},\nvous êtes admis(e) en ${formation_title}.\n"
    "Confirmez avant le ${confirmation_date}."
)


@pytest.fixture
def letter(centre):
    return DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.ADMISSION,
        centre=centre,
        title=TITLE,
        body=BODY,
        signatory="Le directeur de l'UFR",
    )


def _preview_url(letter):
    return reverse("admin:offers_decisionlettertemplate_preview", args=[letter.pk])


def _text(response) -> str:
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_central_office_previews_a_letter_with_the_sample_values(client, central_manager, letter):
    client.force_login(central_manager)

    response = client.get(_preview_url(letter))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="apercu-lettre-{letter.pk}.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    text = _text(response)
    assert "Admission de Estelle Martin" in text  # the title, with the variables' samples
    assert "Madame, Monsieur Martin," in text
    assert "vous êtes admis(e) en Master Informatique." in text
    assert "Confirmez avant le 30/06/2026." in text
    assert "UFR Sciences Exactes et Expérimentales" in text  # the centre's heading
    assert "Le directeur de l'UFR" in text  # the signatory
    assert "${" not in text


def test_the_preview_reads_the_letter_and_the_staff_scope_only(
    client, central_manager, letter, django_assert_num_queries
):
    client.force_login(central_manager)

    # Session and user, the staff scope, the letter with its centre and formation, the user's and their groups'
    # permissions (the view permission on the letter), the request's savepoint and its release: the sample values
    # read nothing.
    with django_assert_num_queries(8):
        response = client.get(_preview_url(letter))

    assert response.status_code == 200


def test_the_preview_carries_the_signature_image(client, central_manager, letter):
    image = io.BytesIO()
    Image.new("RGB", (200, 80), "navy").save(image, format="PNG")
    letter.signature.save("signature.png", ContentFile(image.getvalue()))
    client.force_login(central_manager)

    response = client.get(_preview_url(letter))

    assert response.status_code == 200
    assert len(PdfReader(io.BytesIO(response.content)).pages[0].images) == 1


@pytest.mark.parametrize("kind", DecisionLetterTemplate.Kind.values)
def test_a_letter_naming_every_variable_renders(client, central_manager, centre, kind):
    letter_type = LETTER_TYPES[kind]
    body = "\n".join(f"{variable.name}: ${{{variable.name}}}" for variable in letter_type.variables)
    letter = DecisionLetterTemplate.objects.create(kind=kind, centre=centre, title="Lettre", body=body)
    client.force_login(central_manager)

    response = client.get(_preview_url(letter))

    assert response.status_code == 200
    text = _text(response)
    for variable in letter_type.variables:
        sample = variable.sample if variable.name != "institution_name" else None
        if sample:
            assert f"{variable.name}: {sample}" in text
    assert "${" not in text


def test_the_change_page_links_to_the_preview(client, central_manager, letter, django_assert_num_queries):
    client.force_login(central_manager)

    # The change page as before: the link is built from the letter already read.
    with django_assert_num_queries(11):
        response = client.get(reverse("admin:offers_decisionlettertemplate_change", args=[letter.pk]))

    assert response.status_code == 200
    assert f'href="{_preview_url(letter)}"' in response.content.decode()


def test_the_add_page_has_no_preview(client, central_manager):
    client.force_login(central_manager)

    response = client.get(reverse("admin:offers_decisionlettertemplate_add"))

    assert response.status_code == 200
    assert "/preview/" not in response.content.decode()


def test_another_centres_manager_gets_a_404(client, other_centre_manager, letter):
    # Even with the model's permission: the letter is not among the rows their scope reads.
    other_centre_manager.user_permissions.add(Permission.objects.get(codename="view_decisionlettertemplate"))
    client.force_login(other_centre_manager)

    response = client.get(_preview_url(letter))

    assert response.status_code == 404


def test_a_limited_manager_gets_a_404_for_another_commissions_formation_letter(
    client, limited_manager, centre, other_commission
):
    formation = FormationFactory(centre=centre, commission=other_commission)
    letter = DecisionLetterTemplate.objects.create(
        kind=DecisionLetterTemplate.Kind.REFUSAL, centre=centre, formation=formation, title="Refus", body="Refus."
    )
    client.force_login(limited_manager)

    response = client.get(_preview_url(letter))

    assert response.status_code == 404


def test_the_centre_manager_previews_their_centres_letter(client, centre_manager, letter):
    client.force_login(centre_manager)

    response = client.get(_preview_url(letter))

    assert response.status_code == 200
    assert "Admission de Estelle Martin" in _text(response)


def test_a_visitor_is_sent_to_the_login_page(client, letter):
    response = client.get(_preview_url(letter))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse(settings.LOGIN_URL)}?next={_preview_url(letter)}"
