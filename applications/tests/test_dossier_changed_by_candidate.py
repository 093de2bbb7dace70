"""The candidate may change their bac, cursus, internships, experience and address at any time, also after
transmitting (the guide): each such change is written to the history of each of their transmitted applications
(``EventKind.DOSSIER_CHANGED_BY_CANDIDATE``), with the candidate as actor and the change in words in French, old →
new, as the staff's changes are (``record_staff_change``). Before, a failed L3 turned into an obtained « Master 1
Chimie » after transmission left no row: the commission and the dossier PDF showed only the new values."""

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from applications import services
from applications.enums import EventKind, Obtained
from applications.models import ApplicationEvent, Baccalaureate, ExternalCursus
from applications.tests.factories import (
    AddressFactory,
    BaccalaureateFactory,
    ExternalCursusFactory,
    InternshipFactory,
    WorkExperienceFactory,
)
from applications.tests.factories_candidature import ApplicationFactory
from applications.tests.helpers import change_url
from offers.tests.factories import CampaignFactory, FormationFactory

pytestmark = pytest.mark.django_db

KIND = EventKind.DOSSIER_CHANGED_BY_CANDIDATE

# The candidate's bac edit (the POST), whatever the number of transmitted applications: the session and the user (2),
# the request's savepoint (2), the dossier with its address and bac (1), the model's check constraints (3: a
# savepoint, the check, its release), the service's savepoint (2), the dossier and the bac locked (2), whether an
# application is transmitted, read once the dossier's lock is held (1: read by the lock's own query, a change made
# during a transmission left no history), the bac saved (1), the transmitted applications (1) and their history rows
# (one INSERT), the dossier read again for the next step (1).
QUERIES_BAC_EDIT = 17
# Without a transmitted application, two fewer: no application to read, no history row to write.
QUERIES_BAC_EDIT_NOT_TRANSMITTED = 15


def applied(candidate, count=1, **fields):
    """``count`` applications of ``candidate`` to new formations (of their campaign unless ``campaign`` is given)."""
    fields.setdefault("campaign", candidate.user.campaign)
    return [ApplicationFactory(candidate=candidate, formation=FormationFactory(), **fields) for _ in range(count)]


def rows(kind=KIND):
    return list(
        ApplicationEvent.objects.filter(kind=kind).order_by("application_id").values_list("application_id", "comment")
    )


def test_a_bac_changed_after_transmission_is_in_the_history_of_each_transmitted_application(candidate):
    bac = BaccalaureateFactory(candidate=candidate, mention="AB")
    transmitted = applied(candidate, 2, transmitted=True)
    applied(candidate)  # not transmitted yet: the commission has nothing of it
    applied(candidate, transmitted_at=timezone.now(), cancelled_at=timezone.now())  # cancelled
    applied(candidate, transmitted=True, campaign=CampaignFactory(is_active=False))  # last year's

    services.update_baccalaureate(candidate=candidate, data={"mention": "TB"}, actor=candidate.user)

    assert Baccalaureate.objects.get(pk=bac.pk).mention == "TB"
    comment = "Baccalauréat : mention : Assez bien → Très bien"
    assert rows() == [(application.pk, comment) for application in transmitted]
    assert set(ApplicationEvent.objects.filter(kind=KIND).values_list("actor", flat=True)) == {candidate.user.pk}


def test_the_year_and_series_in_words_old_and_new(candidate):
    BaccalaureateFactory(candidate=candidate, year=2020, series="GEN")
    applied(candidate, transmitted=True)

    services.update_baccalaureate(candidate=candidate, data={"year": 2019, "series": "STMG"}, actor=candidate.user)

    ((_pk, comment),) = rows()
    assert comment.startswith("Baccalauréat : ")
    assert "année d'obtention : 2020 → 2019" in comment
    # The series by its label, not its code.
    assert "série du bac ou équivalence : Baccalauréat général → Baccalauréat technologique STMG" in comment


def test_a_failed_l3_turned_into_an_obtained_master_is_recorded(candidate):
    row = ExternalCursusFactory(candidate=candidate, year=2024, label="L3 Chimie", obtained=Obtained.NO)
    (application,) = applied(candidate, transmitted=True)

    services.update_row(
        row=row, data={"label": "Master 1 Chimie", "obtained": Obtained.YES}, actor=candidate.user, read_at=None
    )

    assert rows() == [
        (
            application.pk,
            "Cursus externe : libellé et niveau : L3 Chimie → Master 1 Chimie, obtenu : Non obtenu → Obtenu",
        )
    ]


def test_a_cursus_row_added_then_deleted_is_recorded(candidate):
    (application,) = applied(candidate, transmitted=True)
    data = {"year": 2024, "label": "Master 1 Chimie", "obtained": Obtained.YES, "country": "BE", "school": "ULB"}

    row = services.add_row(model=ExternalCursus, candidate=candidate, data=data, actor=candidate.user)
    services.delete_row(row=row, actor=candidate.user)

    assert rows() == [
        (application.pk, "Cursus externe : ajout (2024 Master 1 Chimie)"),
        (application.pk, "Cursus externe : suppression (2024 Master 1 Chimie)"),
    ]
    assert not ExternalCursus.objects.exists()


@pytest.mark.parametrize(
    ("factory", "data", "comment"),
    [
        (InternshipFactory, {"duration": "6 mois"}, "Stage : durée : 2 mois → 6 mois"),
        (WorkExperienceFactory, {"title": "Chimiste"}, "Expérience professionnelle : intitulé : Vendeur → Chimiste"),
    ],
)
def test_internships_and_experience_changed_are_recorded(candidate, factory, data, comment):
    row = factory(candidate=candidate)
    applied(candidate, transmitted=True)

    services.update_row(row=row, data=data, actor=candidate.user)

    assert [comment for _pk, comment in rows()] == [comment]


def test_an_address_changed_is_recorded(candidate):
    AddressFactory(candidate=candidate, city="PERPIGNAN", postal_code="66000")
    applied(candidate, transmitted=True)

    services.save_address(candidate=candidate, data={"city": "CANET", "postal_code": "66140"}, actor=candidate.user)

    assert [comment for _pk, comment in rows()] == [
        "Adresse : code postal : 66000 → 66140, commune : PERPIGNAN → CANET"
    ]


def test_no_bac_declared_instead_of_a_bac_is_recorded(candidate):
    BaccalaureateFactory(candidate=candidate, mention="B")
    applied(candidate, transmitted=True)

    services.declare_no_baccalaureate(candidate=candidate, actor=candidate.user)

    ((_pk, comment),) = rows()
    assert comment.startswith("Baccalauréat : a le bac ou une équivalence : oui → non, ")
    assert "mention : Bien → —" in comment


def test_before_any_transmission_no_row(candidate):
    BaccalaureateFactory(candidate=candidate, mention="AB")
    row = ExternalCursusFactory(candidate=candidate)
    applied(candidate, 2)

    services.update_baccalaureate(candidate=candidate, data={"mention": "TB"}, actor=candidate.user)
    services.update_row(row=row, data={"label": "Master 1"}, actor=candidate.user)
    services.delete_row(row=row, actor=candidate.user)

    assert not ApplicationEvent.objects.exists()


def test_a_save_that_changes_nothing_writes_no_row(candidate):
    BaccalaureateFactory(candidate=candidate, mention="AB", year=2020)
    AddressFactory(candidate=candidate, city="PERPIGNAN")
    row = ExternalCursusFactory(candidate=candidate, label="BTS SIO")
    applied(candidate, transmitted=True)

    services.update_baccalaureate(candidate=candidate, data={"mention": "AB", "year": 2020}, actor=candidate.user)
    services.save_address(candidate=candidate, data={"city": "PERPIGNAN"}, actor=candidate.user)
    services.update_row(row=row, data={"label": "BTS SIO"}, actor=candidate.user)

    assert not ApplicationEvent.objects.exists()


def test_a_change_by_someone_else_is_not_the_candidates(candidate, centre_manager):
    """Staff write their own row (``record_staff_change``), never one saying the candidate changed the dossier."""
    BaccalaureateFactory(candidate=candidate, mention="AB")
    applied(candidate, transmitted=True)

    services.update_baccalaureate(candidate=candidate, data={"mention": "TB"}, actor=centre_manager)

    assert not ApplicationEvent.objects.filter(kind=KIND).exists()


BAC_FORM = {"mode": "edit", "series": "GEN", "year": "2020", "country": "FR", "department": "66"}


@pytest.mark.parametrize(
    ("transmitted", "queries"),
    [(0, QUERIES_BAC_EDIT_NOT_TRANSMITTED), (1, QUERIES_BAC_EDIT), (3, QUERIES_BAC_EDIT)],
)
def test_the_candidates_bac_edit_costs_the_same_queries_whatever_the_number_of_applications(
    owner_client, candidate, transmitted, queries, django_assert_num_queries
):
    BaccalaureateFactory(candidate=candidate, series="GEN", year=2020, country="FR", department="66", mention="AB")
    applied(candidate, transmitted, transmitted=True)
    applied(candidate)  # not transmitted: no row, no query

    with django_assert_num_queries(queries):
        response = owner_client.post(reverse("applications:baccalaureate"), {**BAC_FORM, "mention": "TB"})

    assert response.status_code == 302
    assert len(rows()) == transmitted


def history_texts(page: str) -> list[str]:
    """The application history's lines as the reader reads them, without their time (markup and entities undone)."""
    match = re.search(r'<ol class="review-history">(.*?)</ol>', page, re.S)
    assert match is not None
    lines = re.findall(r"<li>.*?</time> — (.*?)</li>", match.group(1), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in lines]


@pytest.mark.usefixtures("back_office_in_french")
def test_the_back_office_history_says_it_in_french(client, central_manager, candidate):
    BaccalaureateFactory(candidate=candidate, mention="AB")
    (application,) = applied(candidate, transmitted=True)
    services.update_baccalaureate(candidate=candidate, data={"mention": "TB"}, actor=candidate.user)
    client.force_login(central_manager)

    texts = history_texts(client.get(change_url(application)).content.decode())

    # Who did it is in the kind's words: neither the dossier number nor a second « par le candidat ».
    line = "Dossier modifié par le candidat après transmission : Baccalauréat : mention : Assez bien → Très bien"
    assert line in texts


def test_the_english_page_marks_the_french_words(client, central_manager, candidate):
    BaccalaureateFactory(candidate=candidate, mention="AB")
    (application,) = applied(candidate, transmitted=True)
    services.update_baccalaureate(candidate=candidate, data={"mention": "TB"}, actor=candidate.user)
    client.force_login(central_manager)

    page = client.get(change_url(application)).content.decode()

    assert "Dossier changed by the candidate after transmission" in page
    assert '<span lang="fr">Baccalauréat : mention : Assez bien → Très bien</span>' in page
