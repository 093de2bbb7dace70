"""A centre's default values for its new formations (eCandidat's "paramètres par défaut", ecandidat-features §2.8):
set on the centre's page (the central office's, and its own managers'), proposed in « Ajouter formation »."""

import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from offers.enums import ApplicationMode, Avis
from offers.models import DecisionType, Formation
from offers.tests.factories import CentreFactory, DiplomaTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")

OPENS = datetime.date(2027, 3, 1)
CLOSES = datetime.date(2027, 4, 30)
DEADLINE = datetime.date(2027, 5, 15)
WAITING_LIST_LAST = (
    "La date de confirmation après passage en liste principale doit être égale ou postérieure à la date limite de "
    "retour, à la date du jury, à la date de publication et à la date de confirmation."
)


@pytest.fixture
def admitted(db):
    return DecisionType.objects.create(code="ADM", label="Admis", candidate_label="Admis", avis=Avis.FAVOURABLE)


@pytest.fixture
def centre_with_defaults(centre, admitted):
    centre.default_mode = ApplicationMode.PAPER
    centre.default_opens_on, centre.default_closes_on, centre.default_return_deadline = OPENS, CLOSES, DEADLINE
    centre.default_confirmation_delay_days = 8
    centre.default_favourable_decision_type = admitted
    centre.default_auto_waiting_list = True
    centre.save()
    return centre


def add_url(centre=None) -> str:
    return reverse("admin:offers_formation_add") + ("" if centre is None else f"?centre={centre}")


def initial_of(response) -> dict:
    form = response.context["adminform"].form
    return {
        name: form[name].value() for name in ("centre", "mode", "opens_on", "return_deadline", "auto_waiting_list")
    }


# --- « Ajouter formation » pre-filled ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected", "prefilled"),
    [
        ("candidate", 302, False),  # to the login page
        ("centre_manager", 200, True),
        ("limited_manager", 200, True),  # adds formations of their commissions, in that centre
        ("other_centre_manager", 200, False),  # adds to their own centre; another's defaults are not read
        ("commission_member", 404, False),  # no catalogue of their own: an add page never offered is not found
        ("read_only_staff", 404, False),
        ("central_manager", 200, True),
    ],
)
def test_the_add_page_for_a_centre_personas(request, client, persona, expected, prefilled, centre_with_defaults):
    user = request.getfixturevalue("candidate").user if persona == "candidate" else request.getfixturevalue(persona)
    client.force_login(user)

    response = client.get(add_url(centre_with_defaults.pk))

    assert response.status_code == expected
    if expected == 200:
        html = response.content.decode()
        assert ('value="01/03/2027"' in html) is prefilled  # the date as the French back office writes it
        assert ("UFR Sciences Exactes" in html) is prefilled  # the note names the centre, and nothing else does


def test_a_managers_only_centre_prefills_the_form(
    client, django_assert_num_queries, centre_manager, centre_with_defaults
):
    client.force_login(centre_manager)

    # session, user, staff scope, Django permissions (2), the centres offered to pre-fill (the one read among them),
    # content type, the form's ten choice lists; the same whatever the number of centres, decisions, pieces
    with django_assert_num_queries(18):
        response = client.get(add_url())

    assert initial_of(response) == {
        "centre": centre_with_defaults.pk,
        "mode": ApplicationMode.PAPER,
        "opens_on": OPENS,
        "return_deadline": DEADLINE,
        "auto_waiting_list": True,
    }
    html = response.content.decode()
    assert '<label for="id_prefill_centre">Pré-remplir avec les valeurs par défaut du centre</label>' in html
    assert "Le formulaire est pré-rempli avec les valeurs par défaut de UFR Sciences Exactes" in html


def test_the_central_office_chooses_the_centre_without_javascript(
    client, django_assert_num_queries, superuser, centre_with_defaults, other_centre
):
    client.force_login(superuser)

    with django_assert_num_queries(16):
        plain = client.get(add_url())
    # the same, less the content type now cached: the centre is taken from the centres already listed
    with django_assert_num_queries(15):
        chosen = client.get(add_url(centre_with_defaults.pk))

    assert initial_of(plain)["opens_on"] is None  # several centres: none chosen for them
    assert initial_of(chosen)["opens_on"] == OPENS
    html = chosen.content.decode()
    assert f'<option value="{centre_with_defaults.pk}" selected>' in html
    assert f'<option value="{other_centre.pk}">' in html


@pytest.mark.parametrize("value", ["abc", "1.5", "999999", ""])
def test_a_centre_that_is_not_one_pre_fills_nothing(client, centre_manager, centre_with_defaults, value):
    client.force_login(centre_manager)

    response = client.get(reverse("admin:offers_formation_add") + f"?centre={value}")

    assert response.status_code == 200
    assert (initial_of(response)["opens_on"] == OPENS) is (value == "")  # empty: the manager's only centre


def test_values_in_the_address_win_over_the_centres(client, centre_manager, centre_with_defaults):
    client.force_login(centre_manager)

    response = client.get(add_url(centre_with_defaults.pk) + "&opens_on=2027-02-01")

    assert initial_of(response)["opens_on"] == "2027-02-01"
    assert initial_of(response)["return_deadline"] == DEADLINE


def test_the_prefilled_form_saves_a_formation_with_the_centres_values(
    client, centre_manager, centre_with_defaults, commission, admitted
):
    client.force_login(centre_manager)
    form = client.get(add_url()).context["adminform"].form
    data = {
        name: value.isoformat() if isinstance(value, datetime.date) else value
        for name in form.fields
        if (value := form[name].value()) not in (None, "", [], False)
    }

    response = client.post(
        add_url(),
        {
            **data,
            "auto_waiting_list": "on",
            "code": "M1NEW",
            "title": "MASTER 1 Nouveau",
            "commission": commission.pk,
            "diploma_type": DiplomaTypeFactory().pk,
            "treatment_type": "AC",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    formation = Formation.objects.get(code="M1NEW")
    assert (formation.opens_on, formation.closes_on, formation.return_deadline) == (OPENS, CLOSES, DEADLINE)
    assert formation.mode == ApplicationMode.PAPER
    assert formation.confirmation_delay_days == 8
    assert formation.favourable_decision_type == admitted
    assert formation.auto_waiting_list is True


# --- the centre's page ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("limited_manager", 403),  # some commissions only: the centre's settings are not theirs (as before)
        ("commission_member", 404),  # readers write none of the setup: not found, as an outsider
        ("read_only_staff", 404),
        ("superuser", 200),
    ],
)
def test_centre_page_personas(request, client, persona, expected, centre):
    user = request.getfixturevalue("candidate").user if persona == "candidate" else request.getfixturevalue(persona)
    client.force_login(user)

    assert client.get(reverse("admin:offers_centre_change", args=[centre.pk])).status_code == expected


def test_a_centre_manager_sets_the_defaults_and_nothing_else(
    client, django_assert_num_queries, centre_manager, centre, admitted
):
    client.force_login(centre_manager)
    url = reverse("admin:offers_centre_change", args=[centre.pk])
    with django_assert_num_queries(11):  # session, user, scope, permissions, centre, the two decision-type lists, …
        page = client.get(url)
    html = page.content.decode()
    assert "Valeurs par défaut des formations" in html
    assert f'href="{add_url(centre.pk)}"' in html  # « Ajouter une formation avec ces valeurs »

    response = client.post(
        url,
        {
            "code": "HACK",
            "max_wishes": "99",
            "default_mode": ApplicationMode.ONLINE,
            "default_opens_on": OPENS.isoformat(),
            "default_closes_on": CLOSES.isoformat(),
            "default_favourable_decision_type": admitted.pk,
            "default_auto_waiting_list": "on",
        },
    )

    assert response.status_code == 302
    centre.refresh_from_db()
    assert (centre.default_opens_on, centre.default_closes_on) == (OPENS, CLOSES)
    assert centre.default_favourable_decision_type == admitted
    assert centre.default_auto_waiting_list is True
    assert (centre.code, centre.max_wishes) == ("SEE", None)  # read-only for them
    history = LogEntry.objects.get(object_id=str(centre.pk))
    assert "Default favourable decision" not in history.get_change_message()  # the form's label, untranslated
    assert "décision favorable par défaut" in history.get_change_message()


def _centre_form(centre, **dates: datetime.date) -> dict:
    """The centre's page posted with its required fields and these default dates."""
    return {
        "code": centre.code,
        "label": centre.label,
        "candidate_mail_copy": "N",
        "default_mode": ApplicationMode.ONLINE,
        **{name: value.isoformat() for name, value in dates.items()},
    }


def test_misordered_default_dates_are_refused_next_to_the_field(client, superuser):
    centre = CentreFactory()
    client.force_login(superuser)
    url = reverse("admin:offers_centre_change", args=[centre.pk])

    response = client.post(url, _centre_form(centre, default_opens_on=CLOSES, default_closes_on=OPENS))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["default_closes_on"] == ["La fin de dépôt doit être égale ou postérieure au début de dépôt."]
    centre.refresh_from_db()
    assert centre.default_opens_on is None


def test_a_default_waiting_list_confirmation_before_the_confirmation_is_refused_next_to_the_field(
    client, django_assert_num_queries, superuser
):
    centre = CentreFactory()
    client.force_login(superuser)
    url = reverse("admin:offers_centre_change", args=[centre.pk])

    with django_assert_num_queries(12):  # the centre's page, rendered again with the form's errors
        response = client.post(
            url,
            _centre_form(
                centre,
                default_return_deadline=DEADLINE,
                default_confirmation_date=DEADLINE + datetime.timedelta(days=20),
                default_waiting_list_confirmation_date=DEADLINE + datetime.timedelta(days=19),
            ),
        )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["default_waiting_list_confirmation_date"] == [WAITING_LIST_LAST]
    assert 'id="id_default_waiting_list_confirmation_date_error"' in response.content.decode()
    centre.refresh_from_db()
    assert centre.default_waiting_list_confirmation_date is None
