"""Centre managers edit their own catalogue in the back office (issue 11): formations (dates, pieces requested,
commission) and commissions (contact) of their centres, without Django permissions; the persona matrix."""

import datetime
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from applications.models import Tag
from applications.tests.helpers import admin_form_data
from offers.models import ComplementaryForm, Formation, Question
from offers.tests.factories import CommissionFactory, FormationFactory, PieceTypeFactory

pytestmark = pytest.mark.usefixtures("back_office_in_french")


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="M1ENER")


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),  # to the login page
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 404),  # no catalogue of their own: nothing to find
        ("read_only_staff", 404),
        ("central_manager", 200),
    ],
)
def test_formation_change_page_personas(request, client, persona, expected, formation, candidate):
    user = candidate.user if persona == "candidate" else request.getfixturevalue(persona)
    client.force_login(user)
    response = client.get(reverse("admin:offers_formation_change", args=[formation.pk]))
    assert response.status_code == expected


def test_manager_moves_the_return_deadline_and_the_pieces(client, centre_manager, formation, centre, other_centre):
    own_piece = PieceTypeFactory(label="Portfolio")  # formation pieces are a shared library (no centre)
    foreign_piece = PieceTypeFactory(label="Pièce d'un autre centre", centre=other_centre, is_common=True)
    client.force_login(centre_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    page = client.get(url)
    offered = set(page.context["adminform"].form.fields["piece_types"].queryset)
    data = admin_form_data(page)
    new_deadline = formation.return_deadline + datetime.timedelta(days=5)

    response = client.post(
        url, {**data, "return_deadline": new_deadline.isoformat(), "piece_types": [own_piece.pk], "_save": "1"}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    formation.refresh_from_db()
    assert formation.return_deadline == new_deadline
    assert list(formation.piece_types.all()) == [own_piece]
    # In the model's words, translated: Django stored the form's label, « Specific pieces », shown untranslated.
    history = LogEntry.objects.get(object_id=str(formation.pk))
    assert history.get_change_message() == "Modification de date limite de retour et pièces spécifiques."
    assert own_piece in offered
    assert foreign_piece not in offered


def test_a_date_error_is_read_with_its_input(client, django_assert_num_queries, centre_manager, formation):
    """Django's admin date input named only the time zone warning its JavaScript may add (ecandidat/admin_inputs.py):
    "Ce champ est obligatoire." was not tied to the input (RGAA 11.10)."""
    client.force_login(centre_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = admin_form_data(client.get(url))

    # the change page, rendered again with the form's errors (each of the formation's check constraints is one)
    with django_assert_num_queries(56):
        response = client.post(url, {**data, "opens_on": "", "_save": "1"})

    html = response.content.decode()
    assert '<ul class="errorlist" id="id_opens_on_error"><li>Ce champ est obligatoire.</li></ul>' in html
    assert 'data-timezone-warning="id_opens_on_timezone_warning_helptext" aria-describedby="id_opens_on_error"' in html
    # No error there, nothing to name: the time zone warning, which only Django's JavaScript may add, is named by
    # static/js/admin_a11y.js once it is on the page (an id the page lacks is an invalid reference).
    assert 'data-timezone-warning="id_closes_on_timezone_warning_helptext"' in html
    assert "timezone_warning_helptext" not in "".join(re.findall(r'aria-describedby="[^"]*"', html))


def test_manager_cannot_move_a_formation_to_another_centre(client, centre_manager, formation, other_centre):
    client.force_login(centre_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = admin_form_data(client.get(url))
    foreign_commission = CommissionFactory(centre=other_centre)

    response = client.post(url, {**data, "centre": other_centre.pk, "commission": foreign_commission.pk})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Sélectionnez un choix valide" in str(errors["centre"])
    assert "Sélectionnez un choix valide" in str(errors["commission"])
    formation.refresh_from_db()
    assert formation.centre_id != other_centre.pk


def test_manager_lists_only_their_formations_and_cannot_delete(
    client, django_assert_num_queries, centre_manager, formation, other_centre
):
    FormationFactory(centre=other_centre, code="MDROIT")
    client.force_login(centre_manager)

    with django_assert_num_queries(11):
        response = client.get(reverse("admin:offers_formation_changelist"))

    assert [f.code for f in response.context["cl"].result_list] == ["M1ENER"]
    # Their one centre only, so no centre filter (every centre was offered, other_centre's list empty).
    assert "centre" not in [getattr(spec, "field_path", "") for spec in response.context["cl"].filter_specs]
    assert '<link rel="icon" href="data:,">' in response.content.decode()  # no /favicon.ico asked, answered 404
    assert (
        client.post(reverse("admin:offers_formation_delete", args=[formation.pk]), {"post": "yes"}).status_code == 403
    )
    assert Formation.objects.filter(pk=formation.pk).exists()


def test_manager_edits_their_commission_contact(client, centre_manager, commission, other_centre):
    other = CommissionFactory(centre=other_centre)
    client.force_login(centre_manager)
    url = reverse("admin:offers_commission_change", args=[commission.pk])
    data = admin_form_data(client.get(url))

    response = client.post(url, {**data, "email": "jury-energie@univ.example"})

    assert response.status_code == 302
    commission.refresh_from_db()
    assert commission.email == "jury-energie@univ.example"
    assert client.get(reverse("admin:offers_commission_change", args=[other.pk])).status_code == 404


def test_a_commission_does_not_move_to_another_centre_without_its_formations(
    client, central_manager, centre, commission, formation, other_centre
):
    """Its formations stayed in the old centre, where Formation.clean then refused them (« The commission must belong
    to the formation's centre. ») and with them the rollover's mass date change."""
    FormationFactory(centre=centre, commission=commission, code="M2ENER")
    client.force_login(central_manager)
    url = reverse("admin:offers_commission_change", args=[commission.pk])
    data = admin_form_data(client.get(url))

    refused = client.post(url, {**data, "centre": other_centre.pk})

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert list(errors) == ["centre"]
    assert errors["centre"][0].startswith("2 formations ")  # how many must move first, in either language
    commission.refresh_from_db()
    assert commission.centre == centre
    # Its formations examined by another commission of their centre, it moves.
    Formation.objects.filter(commission=commission).update(commission=CommissionFactory(centre=centre))
    assert client.post(url, {**data, "centre": other_centre.pk}).status_code == 302
    commission.refresh_from_db()
    assert commission.centre == other_centre


def test_the_catalogue_is_on_the_managers_home(client, centre_manager):
    client.force_login(centre_manager)
    html = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:offers_formation_changelist") in html
    assert reverse("admin:offers_commission_changelist") in html


# --- tags -----------------------------------------------------------------------------------------------------


def test_manager_adds_a_tag_of_their_centre_not_a_global_one(client, centre_manager, centre, other_centre):
    client.force_login(centre_manager)
    add = reverse("admin:applications_tag_add")

    refused = client.post(add, {"label": "Global", "colour": "#112233", "in_service": "on"})
    created = client.post(add, {"label": "Entretien", "colour": "#112233", "centre": centre.pk, "in_service": "on"})
    foreign = client.post(add, {"label": "Autre", "colour": "#112233", "centre": other_centre.pk})

    assert refused.status_code == 200
    assert "Ce champ est obligatoire." in str(refused.context["adminform"].form.errors["centre"])
    assert created.status_code == 302
    assert foreign.status_code == 200
    assert list(Tag.objects.values_list("label", "centre_id")) == [("Entretien", centre.pk)]


def test_bad_colour_is_refused_in_french(client, central_manager):
    client.force_login(central_manager)
    response = client.post(reverse("admin:applications_tag_add"), {"label": "X", "colour": "rouge"})
    assert "Donnez une couleur sous la forme #RRVVBB." in str(response.context["adminform"].form.errors["colour"])


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("candidate", 302),
        ("centre_manager", 200),
        ("other_centre_manager", 404),
        ("commission_member", 404),
        ("read_only_staff", 404),
        ("central_manager", 200),
    ],
)
def test_tag_change_page_personas(request, client, persona, expected, centre, candidate):
    tag = Tag.objects.create(label="Entretien", centre=centre)
    user = candidate.user if persona == "candidate" else request.getfixturevalue(persona)
    client.force_login(user)
    assert client.get(reverse("admin:applications_tag_change", args=[tag.pk])).status_code == expected


# --- the dates of several formations at once (eCandidat's mass edit, §2.8) ---------------------------------------

CHANGELIST = "admin:offers_formation_changelist"
NEXT_YEAR = {
    "opens_on": "2027-03-15",
    "closes_on": "2027-06-30",
    "return_deadline": "2027-07-07",
    "confirmation_date": "2027-08-31",
}


def _set_dates(client, formations, **fields):
    selection = {"action": "set_dates", "_selected_action": [formation.pk for formation in formations]}
    return client.post(reverse(CHANGELIST), {**selection, **fields}, follow=True)


@pytest.mark.parametrize("extra", [1, 4])
def test_manager_gives_the_same_dates_to_a_selection(
    client, django_assert_num_queries, centre_manager, formation, centre, commission, extra
):
    others = [FormationFactory(centre=centre, commission=commission, code=f"M2ENER{n}") for n in range(extra)]
    client.force_login(centre_manager)
    selection = [formation.pk, *(other.pk for other in others)]

    with django_assert_num_queries(13):  # the confirmation page does not grow with the selection
        page = client.post(reverse(CHANGELIST), {"action": "set_dates", "_selected_action": selection})
    done = _set_dates(client, [formation, *others], apply="1", **NEXT_YEAR)

    assert f"Ces dates seront données à {extra + 1} formations" in page.content.decode()
    assert f"Dates modifiées pour {extra + 1} formations." in done.content.decode()
    for changed in Formation.objects.filter(pk__in=selection):
        assert changed.opens_on.isoformat() == NEXT_YEAR["opens_on"]
        assert changed.confirmation_date.isoformat() == NEXT_YEAR["confirmation_date"]
        history = LogEntry.objects.get(object_id=str(changed.pk))
        assert history.user == centre_manager
        assert history.get_change_message() == (
            "Modification de début de dépôt des candidatures, fin de dépôt des candidatures, date limite de retour et "
            "date de confirmation."
        )


def test_a_date_left_empty_stays_and_one_refusal_changes_nothing(
    client, centre_manager, formation, centre, commission
):
    today = timezone.localdate()
    late = FormationFactory(centre=centre, commission=commission, code="MLATE")
    late.return_deadline = today + datetime.timedelta(days=300)
    late.confirmation_date = today + datetime.timedelta(days=330)
    late.save()
    before = {f.pk: (f.opens_on, f.closes_on) for f in Formation.objects.all()}
    client.force_login(centre_manager)

    # The window's end before MLATE's own later deadline is fine; after M1ENER's deadline (the factory's, today + 37
    # days) it is not.
    closes_on = today + datetime.timedelta(days=200)
    assert formation.return_deadline < closes_on < late.return_deadline
    response = _set_dates(client, [formation, late], apply="1", closes_on=closes_on.isoformat())

    text = response.content.decode()
    assert "M1ENER : La date limite de retour doit être égale ou postérieure à la fin de dépôt." in text
    assert "MLATE" not in text.split("errorlist")[1].split("</ul>")[0]
    assert {f.pk: (f.opens_on, f.closes_on) for f in Formation.objects.all()} == before
    assert not LogEntry.objects.exists()
    empty = _set_dates(client, [formation], apply="1")
    assert "Donnez au moins une date" in empty.content.decode()


def test_a_guessed_formation_of_another_centre_is_left_alone(client, centre_manager, formation, other_centre):
    theirs = FormationFactory(centre=other_centre, code="MDROIT")
    client.force_login(centre_manager)

    _set_dates(client, [formation, theirs], apply="1", opens_on="2027-01-02", closes_on="2027-01-03")

    theirs.refresh_from_db()
    formation.refresh_from_db()
    assert theirs.opens_on != datetime.date(2027, 1, 2)
    assert formation.opens_on == datetime.date(2027, 1, 2)


@pytest.mark.parametrize("persona", ["read_only_staff", "commission_member"])
def test_the_action_is_not_offered_without_a_catalogue_to_manage(request, client, persona, formation):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse(CHANGELIST))

    assert response.status_code in (403, 404) or "set_dates" not in response.content.decode()


def test_the_jury_and_publication_dates_follow_the_reference_order(client, central_manager, formation):
    client.force_login(central_manager)

    early_jury = _set_dates(
        client, [formation], apply="1", jury_on=str(formation.return_deadline - datetime.timedelta(days=1))
    )
    in_order = _set_dates(
        client,
        [formation],
        apply="1",
        jury_on=str(formation.return_deadline + datetime.timedelta(days=2)),
        publication_on=str(formation.return_deadline + datetime.timedelta(days=4)),
    )

    assert "La date du jury doit être égale ou postérieure à la date limite de retour." in early_jury.content.decode()
    assert "Dates modifiées pour 1 formation." in in_order.content.decode()
    formation.refresh_from_db()
    assert formation.publication_on - formation.jury_on == datetime.timedelta(days=2)


# --- pieces, forms, questions and service state of a selection ------------------------------------------------------


def _set_links(client, formations, **fields):
    selection = {"action": "set_links", "_selected_action": [formation.pk for formation in formations]}
    return client.post(reverse(CHANGELIST), {**selection, **fields}, follow=True)


@pytest.mark.parametrize("extra", [1, 4])
def test_manager_attaches_and_detaches_for_a_selection(
    client, django_assert_num_queries, centre_manager, formation, centre, commission, extra
):
    others = [FormationFactory(centre=centre, commission=commission, code=f"M2ENER{n}") for n in range(extra)]
    selection = [formation, *others]
    cv, old = PieceTypeFactory(code="CV", label="CV"), PieceTypeFactory(code="OLD", label="Ancienne pièce")
    form = ComplementaryForm.objects.create(code="F1", survey_id=1, label="Questionnaire", candidate_label="Q")
    question = Question.objects.create(code="Q1", label="Projet", candidate_label="Votre projet ?")
    old.formations.add(*[f.pk for f in selection])
    client.force_login(centre_manager)

    # The page does not grow with the selection; each pair of lists (to attach, to detach) reads its choices once.
    with django_assert_num_queries(16):
        page = client.post(reverse(CHANGELIST), {"action": "set_links", "_selected_action": [f.pk for f in selection]})
    done = _set_links(
        client,
        selection,
        apply="1",
        add_piece_types=[cv.pk],
        remove_piece_types=[old.pk],
        add_forms=[form.pk],
        add_questions=[question.pk],
        in_service="0",
    )

    assert f"Cela concerne {extra + 1} formations" in page.content.decode()
    assert f"{extra + 1} formations modifiées." in done.content.decode()
    for changed in Formation.objects.filter(pk__in=[f.pk for f in selection]):
        assert list(changed.piece_types.values_list("code", flat=True)) == ["CV"]
        assert list(changed.forms.all()) == [form]
        assert list(changed.questions.all()) == [question]
        assert changed.in_service is False
        history = LogEntry.objects.get(object_id=str(changed.pk))
        assert history.user == centre_manager
        assert (
            history.get_change_message()
            == "Rattachés : CV, Questionnaire, Projet ; Détachés : Ancienne pièce ; Hors service"
        )


def test_attaching_and_detaching_the_same_piece_is_refused_next_to_it(client, centre_manager, formation):
    piece = PieceTypeFactory(code="CV", label="CV")
    client.force_login(centre_manager)

    response = _set_links(client, [formation], apply="1", add_piece_types=[piece.pk], remove_piece_types=[piece.pk])
    empty = _set_links(client, [formation], apply="1")

    assert "Rattaché et détaché à la fois : CV." in response.content.decode()
    assert not formation.piece_types.exists()
    assert "Choisissez ce qu&#x27;il faut rattacher" in empty.content.decode()
    assert not LogEntry.objects.exists()


def test_a_group_with_nothing_to_choose_says_so_without_a_query_more(
    client, django_assert_num_queries, centre_manager, formation, other_centre
):
    """QA: the mass edit showed « Formulaires complémentaires à rattacher » over an empty box when no form exists
    (another centre's form is not within the manager's scope). A piece is named by its whole label."""
    label = "Relevé de notes de toutes les années post-bac, avec le détail des unités d’enseignement suivies"
    PieceTypeFactory(code="RN", label=label)
    ComplementaryForm.objects.create(
        code="F9", survey_id=9, label="Leur questionnaire", candidate_label="Q", centre=other_centre
    )
    client.force_login(centre_manager)

    with django_assert_num_queries(16):
        page = client.post(reverse(CHANGELIST), {"action": "set_links", "_selected_action": [formation.pk]})

    html = page.content.decode()
    forms = html.split("<legend>Formulaires complémentaires à rattacher</legend>", 1)[1].split("</fieldset>", 1)[0]
    assert "<p>Rien à choisir : aucun formulaire complémentaire en service n’existe dans votre périmètre.</p>" in forms
    assert 'name="add_forms"' not in html
    assert html.count("Rien à choisir : aucun formulaire complémentaire") == 2  # to attach, to detach
    assert html.count("Rien à choisir : aucune question spécifique") == 2
    assert "Rien à choisir : aucune pièce" not in html
    assert html.count('name="add_piece_types" value=') == 1
    assert html.count(f">\n {label}</label>") == 2  # not cut at 80 characters with « … »


def test_another_centres_pieces_are_not_offered_and_its_formations_are_left_alone(
    client, centre_manager, formation, other_centre
):
    theirs = FormationFactory(centre=other_centre, code="MDROIT")
    their_form = ComplementaryForm.objects.create(
        code="F9", survey_id=9, label="Leur questionnaire", candidate_label="Q", centre=other_centre
    )
    client.force_login(centre_manager)

    page = client.post(reverse(CHANGELIST), {"action": "set_links", "_selected_action": [formation.pk]})
    _set_links(client, [formation, theirs], apply="1", add_forms=[their_form.pk], in_service="0")

    assert "Leur questionnaire" not in page.content.decode()
    theirs.refresh_from_db()
    formation.refresh_from_db()
    assert theirs.in_service is True
    assert not formation.forms.exists()  # the form was not a valid choice: nothing changed


def test_the_colour_is_the_browsers_picker_without_attributes_html_forbids_on_it(
    client, central_manager, django_assert_num_queries
):
    client.force_login(central_manager)

    with django_assert_num_queries(9):
        html = client.get(reverse("admin:applications_tag_add")).content.decode()

    colour = re.search(r'<input type="color"[^>]*>', html).group(0)
    assert 'name="colour"' in colour
    assert "required" not in colour  # HTML allows neither on a colour input: it always holds a value
    assert "maxlength" not in colour


# --- the confirmation date after a waiting-list promotion comes last (ecandidat-features §2.8) ---------------------

WAITING_LIST_LAST = (
    "La date de confirmation après passage en liste principale doit être égale ou postérieure à la date limite de "
    "retour, à la date du jury, à la date de publication et à la date de confirmation."
)


def test_a_waiting_list_confirmation_before_the_confirmation_is_refused_next_to_its_input(
    client, django_assert_num_queries, centre_manager, formation
):
    client.force_login(centre_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])
    data = admin_form_data(client.get(url))
    early = formation.confirmation_date - datetime.timedelta(days=1)

    # the change page, rendered again with the form's errors (each of the formation's check constraints is one);
    # + the campaign whose closing date a date changed must not pass
    with django_assert_num_queries(54):
        response = client.post(url, {**data, "waiting_list_confirmation_date": early.isoformat(), "_save": "1"})

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<ul class="errorlist" id="id_waiting_list_confirmation_date_error"><li>{WAITING_LIST_LAST}</li>' in html
    formation.refresh_from_db()
    assert formation.waiting_list_confirmation_date is None


def test_a_mass_edit_that_would_put_the_confirmation_after_the_waiting_list_one_is_refused(
    client, django_assert_num_queries, centre_manager, formation, centre, commission
):
    formation.waiting_list_confirmation_date = formation.confirmation_date
    formation.save()
    other = FormationFactory(centre=centre, commission=commission, code="M2ENER")
    before = dict(Formation.objects.values_list("pk", "confirmation_date"))
    client.force_login(centre_manager)
    later = formation.confirmation_date + datetime.timedelta(days=3)
    selection = {"action": "set_dates", "_selected_action": [formation.pk, other.pk]}

    # the selection locked and checked, the page shown again; nothing written; + the campaign whose closing date
    # the dates must not pass
    with django_assert_num_queries(18):
        response = client.post(reverse(CHANGELIST), {**selection, "apply": "1", "confirmation_date": later})

    assert f"M1ENER : {WAITING_LIST_LAST}" in response.content.decode()
    assert dict(Formation.objects.values_list("pk", "confirmation_date")) == before
    assert not LogEntry.objects.exists()
    both = _set_dates(
        client, [formation, other], apply="1", confirmation_date=later, waiting_list_confirmation_date=later
    )
    assert "Dates modifiées pour 2 formations." in both.content.decode()
    formation.refresh_from_db()
    assert formation.waiting_list_confirmation_date == later


def test_dates_given_out_of_order_are_refused_once_next_to_the_date(
    client, django_assert_num_queries, centre_manager, formation, centre, commission
):
    """The two confirmation dates given in the wrong order refused every formation alike, in one whole-form line per
    formation; the form now says it once, next to the date, without locking the selection."""
    other = FormationFactory(centre=centre, commission=commission, code="M2ENER")
    client.force_login(centre_manager)
    selection = {"action": "set_dates", "_selected_action": [formation.pk, other.pk], "apply": "1"}

    # as the confirmation page: no formation locked; + the campaign whose closing date the dates must not pass
    with django_assert_num_queries(14):
        response = client.post(
            reverse(CHANGELIST),
            {**selection, "confirmation_date": "2030-01-02", "waiting_list_confirmation_date": "2030-01-01"},
        )

    html = response.content.decode()
    assert f'<ul class="errorlist" id="id_waiting_list_confirmation_date_error"><li>{WAITING_LIST_LAST}</li>' in html
    assert "M1ENER :" not in html
    assert not Formation.objects.filter(waiting_list_confirmation_date__isnull=False).exists()


def test_the_service_state_select_of_the_mass_edit_is_named_by_its_label(
    client, django_assert_num_queries, centre_manager, formation
):
    """axe-core: « select-name » (critical) on the mass edit's « En service » select, under a legend only."""
    client.force_login(centre_manager)

    with django_assert_num_queries(16):
        page = client.post(reverse(CHANGELIST), {"action": "set_links", "_selected_action": [formation.pk]})

    html = page.content.decode()
    assert '<label for="id_in_service">En service' in html
    assert "<legend>En service</legend>" not in html
    assert "<legend>Pièces spécifiques à rattacher</legend>" in html  # the checkbox groups keep their legend


def test_a_date_not_understood_is_refused_next_to_it_only(
    client, django_assert_num_queries, centre_manager, formation
):
    """« Donnez au moins une date » was said too, above the form, though a date was given."""
    client.force_login(centre_manager)
    selection = {"action": "set_dates", "_selected_action": [formation.pk], "apply": "1"}

    with django_assert_num_queries(13):
        response = client.post(reverse(CHANGELIST), {**selection, "opens_on": "2030-13-45"})

    assert response.context["form"].errors == {"opens_on": ["Saisissez une date valide."]}


def test_the_mass_edit_offers_to_attach_only_what_is_in_service(
    client, django_assert_num_queries, centre_manager, formation
):
    """QA: the mass edit offered « Hors service » pieces to attach. They are still offered to detach (a formation
    may have kept one), as the formation's own form keeps listing the ones it has."""
    cv = PieceTypeFactory(code="CV", label="CV")
    old = PieceTypeFactory(code="OLD", label="Ancienne attestation", in_service=False)
    old.formations.add(formation)
    retired_form = ComplementaryForm.objects.create(
        code="F1", survey_id=1, label="Ancien questionnaire", candidate_label="Q", in_service=False
    )
    client.force_login(centre_manager)

    with django_assert_num_queries(16):  # as before: each pair of lists still reads its choices once
        page = client.post(reverse(CHANGELIST), {"action": "set_links", "_selected_action": [formation.pk]})
    forged = _set_links(client, [formation], apply="1", add_piece_types=[old.pk, cv.pk])
    detached = _set_links(client, [formation], apply="1", remove_piece_types=[old.pk], add_piece_types=[cv.pk])

    html = page.content.decode()
    assert f'name="add_piece_types" value="{cv.pk}"' in html
    assert f'name="add_piece_types" value="{old.pk}"' not in html
    assert f'name="remove_piece_types" value="{old.pk}"' in html
    assert (
        html.count("Rien à choisir : aucun formulaire complémentaire en service n’existe dans votre périmètre.") == 1
    )
    assert f'name="remove_forms" value="{retired_form.pk}"' in html
    assert "Sélectionnez un choix valide" in forged.content.decode()
    assert list(formation.piece_types.values_list("code", flat=True)) == ["CV"]  # after the second post only
    assert LogEntry.objects.get().get_change_message() == "Rattachés : CV ; Détachés : Ancienne attestation"
    assert detached.status_code == 200


def test_the_formation_form_offers_what_is_in_service_and_keeps_what_it_has(
    client, django_assert_num_queries, centre_manager, formation
):
    kept = PieceTypeFactory(code="KEPT", label="Attestation retirée mais rattachée", in_service=False)
    PieceTypeFactory(code="OLD", label="Ancienne attestation", in_service=False)
    cv = PieceTypeFactory(code="CV", label="CV")
    kept.formations.add(formation)
    client.force_login(centre_manager)
    url = reverse("admin:offers_formation_change", args=[formation.pk])

    with django_assert_num_queries(21):  # the list of pieces and what the formation has: one query, as before
        page = client.get(url)
    response = client.post(url, {**admin_form_data(page), "piece_types": [kept.pk, cv.pk], "_save": "1"})

    offered = page.context["adminform"].form.fields["piece_types"].queryset
    assert sorted(offered.values_list("code", flat=True)) == ["CV", "KEPT"]
    assert response.status_code == 302
    assert sorted(formation.piece_types.values_list("code", flat=True)) == ["CV", "KEPT"]


def test_the_mass_edits_history_names_a_long_piece_whole(client, centre_manager, formation):
    """QA: the history line of the mass edit cut a piece's name at 80 characters (its ``str``, made for the lists),
    so two long pieces that begin alike read the same there. The line is a text column: nothing to cut."""
    label = (
        "Relevé de notes de toutes les années post-bac, avec le détail des unités d’enseignement suivies et des "
        "crédits ECTS obtenus"
    )
    piece = PieceTypeFactory(code="RN", label=label)
    old = PieceTypeFactory(code="OLD", label=f"{label} (ancien modèle)")
    old.formations.add(formation)
    client.force_login(centre_manager)

    _set_links(client, [formation], apply="1", add_piece_types=[piece.pk], remove_piece_types=[old.pk])

    history = LogEntry.objects.get(object_id=str(formation.pk))
    assert history.get_change_message() == f"Rattachés : {label} ; Détachés : {label} (ancien modèle)"
    assert len(label) > 120
