"""INSEE commune codes in the OPI files (``applications/opi/communes.py``): looked up in the SIS's communes by birth
département + town and by postal code + town, one query per transfer; written only when one commune matches."""

import pytest

from applications.models import ReferenceCommune
from applications.opi.communes import CommuneCodes
from applications.opi.services import transfer_opis
from applications.opi.transfer import OpiCandidate
from applications.tests.opi.helpers import admit, confirm, files_of, make_candidate, parse
from ecandidat.batches import Report


def _communes(*rows: tuple[str, str, str], visible: bool = True) -> None:
    ReferenceCommune.objects.bulk_create(
        ReferenceCommune(code=f"{insee}-{postal}", insee_code=insee, postal_code=postal, label=label, visible=visible)
        for insee, postal, label in rows
    )


@pytest.fixture
def communes(db):
    _communes(
        ("66136", "66000", "PERPIGNAN"),
        ("66136", "66100", "PERPIGNAN"),  # one commune, two postal codes
        ("42218", "42000", "SAINT-ÉTIENNE"),
        ("42218", "42100", "SAINT-ÉTIENNE"),
        ("2A004", "20000", "AJACCIO"),
        ("97411", "97400", "SAINT-DENIS"),
        ("93066", "93200", "SAINT-DENIS"),  # the same name in another département
    )
    _communes(("66999", "66000", "PERPIGNAN"), visible=False)  # a former code, kept hidden by the refresh


def _codes(*candidates) -> CommuneCodes:
    return CommuneCodes([OpiCandidate(candidate=candidate) for candidate in candidates])


def test_the_pegase_files_carry_the_birth_and_address_communes(
    communes, opi_candidate, formation, centre_manager, opi_type
):
    confirm(admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type))

    files = files_of(transfer_opis(Report()))

    (candidat,) = files["candidat"][1]
    (inscription,) = files["inscription"][1]
    for row in (candidat, inscription):
        assert row["code_commune_naissance"] == "66136"  # born in "Perpignan", département 66
        assert row["adresse_code_commune"] == "66136"  # "PERPIGNAN", 66000; not the hidden former code
    assert candidat["libelle_commune_naissance"] == "PERPIGNAN"  # the commune's label (§2.3), not the town typed


def test_the_apogee_file_carries_the_address_commune(
    settings, communes, opi_candidate, formation, centre_manager, opi_type
):
    settings.OPI_BACKEND = "apogee"
    confirm(admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type))

    (text,) = transfer_opis(Report()).files.values()

    (row,) = parse(text)[1]
    assert row["COD_COM_ADR"] == "66136"
    assert row["COD_DEP_PAY_NAI"] == "066"  # the birth commune is not sent to Apogée, as eCandidat does


@pytest.mark.parametrize(
    ("department", "town", "expected"),
    [
        ("42", "Saint Etienne", "42218"),  # accents, case and hyphens aside
        ("2A", "Ajaccio", "2A004"),
        ("974", "Saint-Denis", "97411"),
        ("93", "saint denis", "93066"),
        ("66", "Perpignan-la-Neuve", ""),  # no such commune: left for the scolarité
        ("31", "Perpignan", ""),  # the wrong département
    ],
)
def test_birth_commune_by_department_and_town(communes, campaign, department, town, expected):
    candidate = make_candidate(campaign, birth_department=department, birth_city=town)
    labels = {"42218": "SAINT-ÉTIENNE", "2A004": "AJACCIO", "97411": "SAINT-DENIS", "93066": "SAINT-DENIS"}

    assert _codes(candidate).birth(candidate) == expected
    # libelle_commune_naissance: the commune's label when one is found, else the town as typed (§2.3).
    assert _codes(candidate).birth_label(candidate) == labels.get(expected, town)


def test_a_birth_abroad_has_no_commune(communes, campaign):
    candidate = make_candidate(campaign, birth_country="ES", birth_department="", birth_city="Perpignan")

    assert _codes(candidate).birth(candidate) == ""


def test_two_communes_of_one_name_in_a_department_leave_the_code_empty(communes, campaign):
    _communes(("66001", "66500", "LES ANGLES"), ("66002", "66210", "LES ANGLES"))
    candidate = make_candidate(campaign, birth_city="Les Angles")

    assert _codes(candidate).birth(candidate) == ""


def test_address_commune_by_postal_code_and_town(communes, campaign):
    candidate = make_candidate(campaign)
    address = candidate.address
    codes = _codes(candidate)

    assert codes.address(address) == "66136"
    address.postal_code = "66100"
    assert _codes(candidate).address(address) == "66136"
    address.city = "CANET-EN-ROUSSILLON"
    assert _codes(candidate).address(address) == ""
    address.country, address.postal_code, address.city = "ES", "", ""
    assert _codes(candidate).address(address) == ""


def test_one_query_for_a_whole_transfer(communes, campaign, django_assert_num_queries):
    candidates = [
        make_candidate(
            campaign, username=f"AB{n:06d}", ine=f"123456789{n}A", birth_department=department, birth_city=town
        )
        for n, (department, town) in enumerate([("66", "Perpignan"), ("42", "Saint-Étienne"), ("2A", "Ajaccio")])
    ]
    entries = [OpiCandidate(candidate=candidate) for candidate in candidates]
    for entry in entries:
        assert entry.address is not None  # loaded before counting, as the transfer's select_related does

    with django_assert_num_queries(1):
        codes = CommuneCodes(entries)
        births = [codes.birth(candidate) for candidate in candidates]

    assert births == ["66136", "42218", "2A004"]


def test_no_communes_loaded_means_empty_codes_and_no_query(campaign, django_assert_num_queries):
    candidate = make_candidate(campaign, birth_country="ES", birth_department="")
    candidate.address.country = "ES"
    entry = OpiCandidate(candidate=candidate)

    with django_assert_num_queries(0):
        codes = CommuneCodes([entry])

    assert codes.birth(candidate) == codes.address(candidate.address) == ""
