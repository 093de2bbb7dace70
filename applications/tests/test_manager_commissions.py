"""A centre manager (or read-only member) limited to some commissions of their centre (eCandidat's gestionnaire
without ``tem_all_comm_gest``, ecandidat-features §2.1): the negative cases first. Commission A (``commission``) is
theirs, commission B (``other_commission``) of the same centre is not. They reach A's applications exactly as a
manager of the whole centre (every dossier status, every action), B's answer 404 or are left out, and no page
reads more than for a manager of the whole centre."""

import pytest
from django.contrib import admin
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import StaffMembership, StaffRole
from accounts.tests.factories import StaffMembershipFactory
from applications.admin.on_behalf import _formations_for
from applications.enums import DossierStatus, PieceStatus
from applications.models import Application, ApplicationNote, Tag
from applications.notifications import centre_copy_recipients
from applications.tests.factories_candidature import decision_type, make_application, with_file
from applications.tests.helpers import change_url, operation_url
from ecandidat.models import StaffDirectoryChange
from offers.enums import Avis
from offers.models import Centre, Commission, DecisionLetterTemplate, Formation
from offers.tests.factories import CommissionFactory, FormationFactory


@pytest.fixture
def formation_a(centre, commission):
    return FormationFactory(centre=centre, commission=commission, code="MINFO", title="Informatique")


@pytest.fixture
def formation_b(centre, other_commission):
    return FormationFactory(centre=centre, commission=other_commission, code="MMATH", title="Mathématiques")


@pytest.fixture
def app_a(formation_a, commission, campaign):
    """A complete dossier of commission A, whose members are not shown complete dossiers: its managers still are."""
    commission.shows_complete = False
    commission.save()
    return make_application(formation_a, campaign=campaign, status=DossierStatus.COMPLETE)


@pytest.fixture
def app_b(formation_b, campaign):
    return make_application(formation_b, campaign=campaign, status=DossierStatus.RECEIVED)


def fresh(user):
    """The user as a new request loads them: no staff scope read yet."""
    return type(user).objects.get(pk=user.pk)


# --- the scope ----------------------------------------------------------------------------------------------------


def test_the_scope_is_still_one_query(django_assert_num_queries, limited_manager, commission, centre):
    StaffMembershipFactory(role=StaffRole.READ_ONLY, centre=CommissionFactory().centre, user=limited_manager)
    user = fresh(limited_manager)

    with django_assert_num_queries(1):
        scope = user.staff_scope

    assert scope.managed_commissions == scope.read_commissions == {commission.pk}
    assert scope.partly_managed_centres == scope.partly_read_centres == {centre.pk}
    assert centre.pk not in scope.managed_centres | scope.read_centres
    assert scope.is_manager
    assert scope.is_staff_member
    assert len(scope.read_centres) == 1  # the other membership, of a whole centre


def test_a_commission_of_another_centre_is_never_in_the_scope(limited_manager):
    """The admin form refuses it; a row written around the form (shell, import) still gives no right."""
    foreign = CommissionFactory()
    limited_manager.staff_memberships.get().commissions.add(foreign)

    assert foreign.pk not in fresh(limited_manager).staff_scope.read_commissions


def test_a_membership_left_without_commissions_reaches_nothing(limited_manager, app_a, app_b):
    """ "Every commission" is a flag, not an empty list: removing the chosen commissions never widens the rights."""
    limited_manager.staff_memberships.get().commissions.clear()
    user = fresh(limited_manager)

    assert not user.staff_scope.is_staff_member
    assert not Application.objects.visible_to(user).exists()


def test_only_centre_staff_may_be_limited(db):
    with pytest.raises(IntegrityError, match="staff_membership_some_commissions_of_a_centre"):
        StaffMembershipFactory(commission_member=True, all_commissions=False)


@pytest.mark.parametrize("method", ["visible_to", "editable_by", "decidable_by", "validatable_by"])
def test_the_manager_reaches_their_commissions_applications_only(method, limited_manager, app_a, app_b):
    assert list(getattr(Application.objects, method)(fresh(limited_manager))) == [app_a]


@pytest.mark.parametrize(
    ("method", "expected"),
    [("visible_to", ["a"]), ("editable_by", []), ("decidable_by", []), ("validatable_by", [])],
)
def test_the_limited_reader_reads_their_commissions_applications_only(method, expected, limited_reader, app_a, app_b):
    found = list(getattr(Application.objects, method)(fresh(limited_reader)))
    assert found == [{"a": app_a}[name] for name in expected]


@pytest.mark.parametrize("method", ["visible_to", "editable_by", "decidable_by", "validatable_by"])
def test_a_manager_of_the_whole_centre_still_reaches_every_commission(method, centre_manager, app_a, app_b):
    assert set(getattr(Application.objects, method)(fresh(centre_manager))) == {app_a, app_b}


def test_catalogue_scopes(limited_manager, centre, commission, other_commission, formation_a, formation_b):
    user = fresh(limited_manager)
    assert list(Centre.objects.visible_to(user)) == [centre]  # filters: their centre
    assert list(Commission.objects.visible_to(user)) == [commission]
    assert list(Formation.objects.visible_to(user)) == [formation_a]
    assert list(_formations_for(user)) == [formation_a]  # applying on a candidate's behalf


def test_tags_of_the_centre_are_usable(limited_manager, centre, other_centre):
    own = Tag.objects.create(label="Entretien", centre=centre)
    Tag.objects.create(label="Autre", centre=other_centre)
    assert list(Tag.objects.usable_by(fresh(limited_manager))) == [own]


def test_the_tags_screen_shows_the_centres_tags_read_only(
    client, limited_manager, centre, other_centre, django_assert_num_queries
):
    """A tag is its centre's, not a commission's: read, never added nor changed by a manager of some commissions
    (the screen used to fail: tags have no commission)."""
    own = Tag.objects.create(label="Entretien", centre=centre)
    other = Tag.objects.create(label="Autre", centre=other_centre)
    client.force_login(limited_manager)

    with django_assert_num_queries(11):
        listing = client.get(reverse("admin:applications_tag_changelist"))
    assert listing.status_code == 200
    for label in ("Dossier incomplet", "Priorité"):
        Tag.objects.create(label=label, centre=centre)
    with django_assert_num_queries(11):  # not one more per row
        assert client.get(reverse("admin:applications_tag_changelist")).status_code == 200
    assert "Entretien" in listing.text
    assert "Autre" not in listing.text
    page = client.get(reverse("admin:applications_tag_change", args=[own.pk]))
    assert page.status_code == 200
    assert 'name="label"' not in page.text  # the view-only page: no field to change
    refused = client.post(
        reverse("admin:applications_tag_change", args=[own.pk]),
        {"label": "Changé", "colour": "#000000", "centre": centre.pk, "in_service": "on"},
    )
    assert refused.status_code == 403
    own.refresh_from_db()
    assert own.label == "Entretien"
    assert client.get(reverse("admin:applications_tag_add")).status_code == 403
    assert client.get(reverse("admin:applications_tag_change", args=[other.pk])).status_code == 404


def test_the_centres_mail_copies_go_to_the_manager_of_the_applications_commission_only(
    centre, commission, other_commission, limited_manager, centre_manager
):
    centre.candidate_mail_copy = "L"
    centre.save()

    assert centre_copy_recipients(centre, commission.pk) == sorted([limited_manager.email, centre_manager.email])
    assert centre_copy_recipients(centre, other_commission.pk) == [centre_manager.email]


# --- the back office: B's rows are not found ----------------------------------------------------------------------


def test_no_staff_view_of_another_commissions_application_lets_them_through(client, limited_manager, app_b):
    """Every URL of the applications admin that names an application of commission B: 404 (or 405), as for
    another centre's manager (test_admin_access)."""
    submission = with_file(app_b)
    note = ApplicationNote.objects.create(application=app_b, author=limited_manager, text="x")
    values = {"object_id": app_b.pk, "piece_id": submission.public_id, "name": "set_status", "note_id": note.pk}
    model_admin = admin.site._registry[Application]
    routes = [
        pattern
        for pattern in model_admin.get_urls()
        if pattern.name
        and "object_id" in pattern.pattern.converters
        and pattern.name not in {"applications_application_history", "applications_application_delete"}
    ]
    assert len(routes) > 8
    client.force_login(limited_manager)
    for pattern in routes:
        url = reverse(f"admin:{pattern.name}", kwargs={key: values[key] for key in pattern.pattern.converters})
        answers = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
        assert set(answers.values()) <= {404, 405}, (pattern.name, answers)
        assert 404 in answers.values(), (pattern.name, answers)


@pytest.mark.parametrize(
    ("persona", "own", "other"),
    [("limited_manager", 200, 404), ("limited_reader", 200, 404), ("centre_manager", 200, 200)],
)
def test_reading_page(client, request, persona, own, other, app_a, app_b):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(change_url(app_a)).status_code == own
    assert client.get(change_url(app_b)).status_code == other


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("limited_manager", {"set_status": 200, "enter_decision": 200, "validate_decisions": 200}),
        ("limited_reader", {"set_status": 403, "enter_decision": 403, "validate_decisions": 403}),
    ],
)
def test_operation_pages(client, request, persona, expected, app_a, app_b):
    client.force_login(request.getfixturevalue(persona))
    for name, status in expected.items():
        assert client.get(operation_url(app_a, name)).status_code == status, name
        assert client.get(operation_url(app_b, name)).status_code == 404, name


def test_decision_and_validation_of_their_commission(client, limited_manager, app_a, app_b):
    client.force_login(limited_manager)
    favourable = decision_type(Avis.FAVOURABLE)

    entered = client.post(operation_url(app_a, "enter_decision"), {"decision_type": favourable.pk})
    validated = client.post(operation_url(app_a, "validate_decisions"), {})
    refused = client.post(operation_url(app_b, "enter_decision"), {"decision_type": favourable.pk})

    assert (entered.status_code, validated.status_code, refused.status_code) == (302, 302, 404)
    decision = app_a.decisions.get()
    assert (decision.created_by, decision.validated_by) == (limited_manager, limited_manager)
    assert not app_b.decisions.exists()


def test_bulk_actions_leave_another_commissions_rows_alone(client, limited_manager, app_a, app_b):
    """A forged selection naming B's application: the action runs on the user's rows only."""
    client.force_login(limited_manager)
    done = client.post(
        reverse("admin:applications_application_changelist"),
        {"action": "action_set_status", "_selected_action": [app_a.pk, app_b.pk], "target": "IN", "apply": "1"},
    )
    assert done.status_code == 302
    app_a.refresh_from_db()
    app_b.refresh_from_db()
    assert (app_a.dossier_status, app_b.dossier_status) == (DossierStatus.INCOMPLETE, DossierStatus.RECEIVED)


@pytest.mark.parametrize("persona", ["limited_manager", "limited_reader"])
def test_pieces(client, request, persona, app_a, app_b):
    own, other = with_file(app_a), with_file(app_b)
    client.force_login(request.getfixturevalue(persona))

    def check(application, submission):
        url = reverse("admin:applications_application_piece_check", args=[application.pk, submission.public_id])
        return client.post(url, {"status": "VA"}).status_code

    assert check(app_b, other) == 404
    assert check(app_a, own) == (302 if persona == "limited_manager" else 403)
    other.refresh_from_db()
    assert other.status == PieceStatus.SUBMITTED


# --- the back office: the same pages, the same queries ------------------------------------------------------------


def _queries(client, user, url, **params):
    client.force_login(user)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(context.captured_queries), response


def test_list_shows_their_commissions_rows_with_the_whole_centre_managers_queries(
    client, limited_manager, centre_manager, app_a, app_b
):
    url = reverse("admin:applications_application_changelist")
    whole, _response = _queries(client, centre_manager, url)
    limited, response = _queries(client, limited_manager, url)

    assert limited == whole
    assert list(response.context["cl"].result_list) == [app_a]
    assert response.context["commission_statements"] == []  # every status: no "Dossiers affichés" statement
    counters = {counter["label"]: counter["count"] for counter in response.context["status_counters"]}
    assert len(counters) == len(DossierStatus)  # every status has its counter, as for the whole centre's managers
    assert counters[DossierStatus.COMPLETE.label] == 1
    assert counters[DossierStatus.RECEIVED.label] == 0


def test_reading_page_costs_what_it_costs_a_manager_of_the_whole_centre(
    client, limited_manager, centre_manager, app_a
):
    whole, _response = _queries(client, centre_manager, change_url(app_a))
    limited, _response = _queries(client, limited_manager, change_url(app_a))
    assert limited == whole


def test_export_holds_their_commissions_rows_only(client, limited_manager, app_a, app_b):
    client.force_login(limited_manager)
    response = client.post(
        reverse("admin:applications_application_export_columns"),
        {"columns": ["numero"], "fmt": "csv", "filters": ""},
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert app_a.candidate.user.username in text
    assert app_b.candidate.user.username not in text


@pytest.mark.parametrize("group", ["formation", "centre", "commission"])
def test_dashboards_count_their_commissions_only(
    client, limited_manager, centre_manager, app_a, app_b, campaign, formation_a, group
):
    make_application(formation_a, campaign=campaign, status=DossierStatus.WAITING)
    url = reverse("admin:applications_application_dashboard")
    whole, _response = _queries(client, centre_manager, url, group=group)
    limited, response = _queries(client, limited_manager, url, group=group)

    assert limited == whole
    rows = [(row.code, row.counts["total"]) for row, _values in response.context["rows"]]
    expected = {"formation": "MINFO", "centre": "SEE", "commission": app_a.formation.commission.code}[group]
    assert rows == [(expected, 2)]  # the complete dossier the commission hides from its members is counted


def test_home_figures_count_their_commissions_only(client, limited_manager, centre_manager, app_a, app_b):
    whole, _response = _queries(client, centre_manager, reverse("admin:index"))
    limited, response = _queries(client, limited_manager, reverse("admin:index"))

    assert limited == whole
    counts = {figure["label"]: figure["count"] for figure in response.context["centre_home"]["figures"]}
    assert (counts["Applications"], counts["Complete"], counts["Received"]) == (1, 1, 0)


# --- centre-wide settings: read the centre's, change their commissions' ------------------------------------------


def test_commissions_screen(client, limited_manager, commission, other_commission):
    client.force_login(limited_manager)

    def page(name, *args):
        return client.get(reverse(f"admin:offers_commission_{name}", args=args))

    assert list(page("changelist").context["cl"].result_list) == [commission]
    assert page("change", commission.pk).status_code == 200
    assert page("change", other_commission.pk).status_code == 404
    assert page("add").status_code == 403  # a new commission is the centre's
    # Moving their commission to another centre would leave its formations behind: not theirs to do.
    assert "centre" not in page("change", commission.pk).context["adminform"].form.fields


def test_the_read_only_centre_is_text_for_who_may_not_open_its_page(
    client, django_assert_num_queries, limited_manager, centre, commission
):
    """Django links a read-only foreign key to the related row's page without asking whether the viewer may open
    it: a manager of some commissions was sent to the centre's page, a 403 (ecandidat/admin_base.py)."""
    client.force_login(limited_manager)

    with django_assert_num_queries(10):
        page = client.get(reverse("admin:offers_commission_change", args=[commission.pk])).content.decode()

    centre_page = reverse("admin:offers_centre_change", args=[centre.pk])
    assert f'<div class="readonly">{centre.label}</div>' in page
    assert centre_page not in page
    assert client.get(centre_page).status_code == 403  # where the link led


def test_a_read_only_account_still_links_to_its_page_for_who_may_open_it(
    admin_client, django_assert_num_queries, centre_manager
):
    change = StaffDirectoryChange.objects.create(user=centre_manager, kind="refreshed", batch="BATCH_MAJ_GESTIONNAIRE")

    with django_assert_num_queries(QUERIES_DIRECTORY_CHANGE):
        page = admin_client.get(reverse("admin:ecandidat_staffdirectorychange_change", args=[change.pk]))

    account_page = reverse("admin:accounts_user_change", args=[centre_manager.pk])
    assert f'<a href="{account_page}">{centre_manager}</a>' in page.content.decode()


QUERIES_DIRECTORY_CHANGE = 8


def test_a_manager_of_the_whole_centre_may_still_move_a_commission(client, centre_manager, commission):
    client.force_login(centre_manager)
    change = client.get(reverse("admin:offers_commission_change", args=[commission.pk]))
    assert "centre" in change.context["adminform"].form.fields


def test_a_manager_of_some_commissions_of_another_centre_adds_no_commission_there(
    client, centre_manager, other_centre
):
    """Regression: a manager of the whole centre A who also manages a commission of centre B was offered B in the new
    commission's « Centre » (their centres wholly or partly managed), and created a commission of B."""
    commission_of_b = CommissionFactory(centre=other_centre)
    membership = StaffMembershipFactory(centre=other_centre, all_commissions=False, user=centre_manager)
    membership.commissions.set([commission_of_b])
    client.force_login(centre_manager)
    data = {"code": "C-NEW", "label": "Nouvelle commission", "alert_mode": "N", "shown_statuses": ["shows_received"]}

    response = client.post(reverse("admin:offers_commission_add"), {**data, "centre": other_centre.pk})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["centre"]
    assert not Commission.objects.filter(code="C-NEW").exists()
    # Their own centre's commission is still created; nor is B offered to move one of A's commissions there.
    commission_of_a = CommissionFactory(centre=centre_manager.staff_memberships.get(all_commissions=True).centre)
    change = client.get(reverse("admin:offers_commission_change", args=[commission_of_a.pk]))
    assert list(change.context["adminform"].form.fields["centre"].queryset) == [commission_of_a.centre]
    response = client.post(reverse("admin:offers_commission_add"), {**data, "centre": commission_of_a.centre_id})
    assert response.status_code == 302
    assert Commission.objects.get(code="C-NEW").centre == commission_of_a.centre


def test_formations_screen(client, limited_manager, centre, commission, other_commission, formation_a, formation_b):
    client.force_login(limited_manager)
    change = client.get(reverse("admin:offers_formation_change", args=[formation_a.pk]))
    offered = change.context["adminform"].form.fields["commission"].queryset

    assert list(offered) == [commission]
    assert client.get(reverse("admin:offers_formation_change", args=[formation_b.pk])).status_code == 404
    assert client.get(reverse("admin:offers_formation_add")).status_code == 200


def test_letters_of_the_centre_are_read_not_changed(client, limited_manager, centre, formation_a, formation_b):
    centre_letter = DecisionLetterTemplate.objects.create(kind="LETTRE_ADM", centre=centre, title="t", body="b")
    own = DecisionLetterTemplate.objects.create(
        kind="LETTRE_ADM", centre=centre, formation=formation_a, title="t", body="b"
    )
    other = DecisionLetterTemplate.objects.create(
        kind="LETTRE_ADM", centre=centre, formation=formation_b, title="t", body="b"
    )
    client.force_login(limited_manager)

    def page(letter):
        return client.get(reverse("admin:offers_decisionlettertemplate_change", args=[letter.pk]))

    listed = client.get(reverse("admin:offers_decisionlettertemplate_changelist")).context["cl"].result_list
    assert set(listed) == {centre_letter, own}
    assert page(own).context["has_change_permission"]
    assert not page(centre_letter).context["has_change_permission"]
    assert page(other).status_code == 404
    refused = client.post(
        reverse("admin:offers_decisionlettertemplate_add"),
        {"kind": "LETTRE_REFUS", "centre": centre.pk, "formation": "", "title": "t", "body": "b"},
    )
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["formation"] == [
        "You manage only some commissions of this centre: choose one of their formations."
    ]
    assert not DecisionLetterTemplate.objects.filter(kind="LETTRE_REFUS").exists()


# --- the membership form and the staff list -----------------------------------------------------------------------


def _membership_data(user, centre, **fields):
    return {"user": user.pk, "role": "CTR", "centre": centre.pk, "commission": "", **fields}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "commissions", "Choose at least one commission of the centre."),
        (
            {"all_commissions": "on", "commissions": ["A"]},
            "commissions",
            "Untick “every commission of the centre” to limit the membership to these commissions.",
        ),
        (
            {"commissions": ["foreign"]},
            "commissions",
            "Not a commission of the centre UFR Sciences Exactes et Expérimentales: Commission étrangère.",
        ),
        (
            {"role": "COM", "commission": "A", "commissions": ["A"]},
            "all_commissions",
            "Only a centre manager or a read-only member may be limited to some commissions of the centre.",
        ),
    ],
)
def test_membership_form_says_what_is_wrong_next_to_the_field(
    client, superuser, centre, commission, django_user_model, fields, field, message
):
    foreign = CommissionFactory(label="Commission étrangère")
    names = {"A": commission.pk, "foreign": foreign.pk}
    user = django_user_model.objects.create_user("nouveau", is_staff=True)
    data = _membership_data(user, centre, **fields)
    if data["role"] == "COM":
        data["centre"] = ""
    data["commissions"] = [names[name] for name in fields.get("commissions", [])]
    if data["commission"]:
        data["commission"] = names[data["commission"]]
    client.force_login(superuser)

    response = client.post(reverse("admin:accounts_staffmembership_add"), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert not StaffMembership.objects.filter(user=user).exists()


def test_membership_form_limits_a_manager(client, superuser, centre, commission, django_user_model):
    user = django_user_model.objects.create_user("nouveau", is_staff=True)
    client.force_login(superuser)

    response = client.post(
        reverse("admin:accounts_staffmembership_add"), _membership_data(user, centre, commissions=[commission.pk])
    )

    assert response.status_code == 302
    membership = StaffMembership.objects.get(user=user)
    assert not membership.all_commissions
    assert list(membership.commissions.all()) == [commission]


@pytest.mark.parametrize("count", [1, 4])
def test_staff_list_names_the_commissions(client, django_assert_num_queries, superuser, centre, count):
    master = CommissionFactory(centre=centre, label="Masters")
    for index in range(count):
        membership = StaffMembershipFactory(centre=centre, all_commissions=False, user__username=f"gestion.{index}")
        membership.commissions.set([master, CommissionFactory(centre=centre, label=f"Licence {index}")])
    StaffMembershipFactory(centre=centre, user__username="tout.le.centre")
    client.force_login(superuser)
    url = reverse("admin:accounts_staffmembership_changelist")
    client.get(url)

    # session, user, the count, the rows, their commissions (one query, whatever the number of rows), filters'
    # centres, the savepoint pair
    with django_assert_num_queries(9):
        response = client.get(url)

    rights = admin.site._registry[StaffMembership].rights
    shown = {row.user.username: rights(row) for row in response.context["cl"].result_list}
    assert shown["gestion.0"] == "Manager (commissions: Licence 0, Masters)"
    assert shown["tout.le.centre"] == "centre manager"
    assert "Manager (commissions: Licence 0, Masters)" in response.content.decode()
