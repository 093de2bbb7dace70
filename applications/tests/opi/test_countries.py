"""Countries in the OPI files (``applications/opi/countries.py``): the INSEE code of every sovereign country, the
SIS's own list first once refreshed, and a French overseas département picked as a country written as a birth in
France; names in the Apogée file in upper case ASCII (``upper_ascii``)."""

import pytest

from applications.models import Address, ReferenceCommune, ReferenceCountry
from applications.models.reference import forget_reference_lists
from applications.opi.apogee import upper_ascii
from applications.opi.countries import insee_country
from applications.opi.services import transfer_opis
from applications.tests.opi.helpers import admit, confirm, files_of, make_candidate, parse
from ecandidat.batches import Report

# The sovereign countries the table lacked, with their INSEE COG code (the three digits after its leading 99).
ADDED = {
    "AG": "441", "BS": "436", "BZ": "429", "BB": "434", "DM": "438", "FJ": "508", "FM": "516", "GD": "435",
    "GY": "428", "JM": "426", "KI": "513", "KN": "442", "LC": "439", "MH": "515", "NR": "507", "PW": "517",
    "PG": "510", "SB": "512", "SR": "437", "TO": "509", "TT": "433", "TV": "511", "VC": "440", "VU": "514",
    "WS": "506",
}  # fmt: skip


def transferred(campaign, formation, manager, decision_type, **fields):
    confirm(admit(make_candidate(campaign, **fields), formation, manager=manager, decision_type=decision_type))
    return transfer_opis(Report())


def apogee_row(export):
    (text,) = export.files.values()
    (row,) = parse(text)[1]
    return row


@pytest.mark.parametrize(("iso_code", "insee_code"), sorted(ADDED.items()))
def test_every_sovereign_country_has_its_insee_code(db, iso_code, insee_code):
    assert insee_country(iso_code) == insee_code


def test_a_candidate_from_jamaica_gets_its_code_in_the_pegase_files(campaign, formation, centre_manager, opi_type):
    export = transferred(
        campaign, formation, centre_manager, opi_type,
        birth_country="JM", nationality="JM", birth_department="", birth_city="Kingston",
    )  # fmt: skip

    files = files_of(export)
    (candidat,) = files["candidat"][1]
    assert (candidat["code_pays_naissance"], candidat["code_nationalite"]) == ("426", "426")
    (inscription,) = files["inscription"][1]
    assert (inscription["code_pays_naissance"], inscription["code_nationalite"]) == ("426", "426")
    assert inscription["libelle_commune_naissance_etranger"] == "Kingston"


def test_a_candidate_from_jamaica_is_born_abroad_in_the_apogee_file(
    settings, campaign, formation, centre_manager, opi_type
):
    settings.OPI_BACKEND = "apogee"
    export = transferred(
        campaign, formation, centre_manager, opi_type,
        birth_country="JM", nationality="JM", birth_department="", birth_city="Kingston",
    )  # fmt: skip

    row = apogee_row(export)
    assert (row["COD_PAY_NAT"], row["COD_TYP_DEP_PAY_NAI"], row["COD_DEP_PAY_NAI"]) == ("426", "P", "426")


def test_the_sis_country_list_comes_first(db):
    ReferenceCountry.objects.bulk_create(
        [
            ReferenceCountry(code="426", iso_code="JM", label="JAMAIQUE"),
            ReferenceCountry(code="990", iso_code="AW", label="ARUBA"),  # a territory the built-in table lacks
            ReferenceCountry(code="143", iso_code="CY", label="CHYPRE", visible=False),  # a former code
            ReferenceCountry(code="254", iso_code="CY", label="CHYPRE"),
            ReferenceCountry(code="P01", iso_code="", label="NOT MATCHED"),
        ]
    )
    forget_reference_lists()

    assert [insee_country(code) for code in ("JM", "AW", "CY", "ES", "")] == ["426", "990", "254", "134", ""]


def test_the_sis_code_is_written_in_the_files(campaign, formation, centre_manager, opi_type):
    ReferenceCountry.objects.create(code="426", iso_code="JM", label="JAMAIQUE")
    ReferenceCountry.objects.create(code="990", iso_code="AW", label="ARUBA")
    forget_reference_lists()

    export = transferred(
        campaign, formation, centre_manager, opi_type,
        birth_country="AW", nationality="JM", birth_department="", birth_city="Oranjestad",
    )  # fmt: skip

    (candidat,) = files_of(export)["candidat"][1]
    assert (candidat["code_pays_naissance"], candidat["code_nationalite"]) == ("990", "426")


@pytest.fixture
def born_in_guadeloupe(campaign):
    """Born in Pointe-à-Pitre and living there, "Guadeloupe" picked as the country (the built-in ISO list offers
    it), with the SIS's communes refreshed."""
    ReferenceCommune.objects.create(code="97120", insee_code="97120", postal_code="97110", label="POINTE-À-PITRE")
    candidate = make_candidate(campaign, birth_country="GP", birth_department="", birth_city="Pointe-à-Pitre")
    Address.objects.filter(candidate=candidate).update(country="GP", postal_code="97110", city="POINTE-A-PITRE")
    return candidate


def test_an_overseas_departement_picked_as_a_country_is_france_in_the_pegase_files(
    born_in_guadeloupe, formation, centre_manager, opi_type
):
    confirm(admit(born_in_guadeloupe, formation, manager=centre_manager, decision_type=opi_type))

    files = files_of(transfer_opis(Report()))

    (candidat,) = files["candidat"][1]
    assert candidat["code_pays_naissance"] == "100"
    assert candidat["code_commune_naissance"] == "97120"
    assert (candidat["adresse_code_pays"], candidat["adresse_code_commune"]) == ("100", "97120")
    (inscription,) = files["inscription"][1]
    assert (inscription["code_pays_naissance"], inscription["code_commune_naissance"]) == ("100", "97120")
    assert inscription["libelle_commune_naissance_etranger"] == ""  # a birth in France


def test_an_overseas_departement_picked_as_a_country_is_a_departement_in_the_apogee_file(
    settings, born_in_guadeloupe, formation, centre_manager, opi_type
):
    settings.OPI_BACKEND = "apogee"
    confirm(admit(born_in_guadeloupe, formation, manager=centre_manager, decision_type=opi_type))

    row = apogee_row(transfer_opis(Report()))

    assert (row["COD_TYP_DEP_PAY_NAI"], row["COD_DEP_PAY_NAI"]) == ("D", "971")
    assert (row["COD_PAY_ADR"], row["COD_COM_ADR"]) == ("100", "97120")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Łukasz", "LUKASZ"),
        ("Øyvind", "OYVIND"),
        ("Đorđe", "DORDE"),
        ("Œdipe", "OEDIPE"),
        ("N’Diaye", "N'DIAYE"),
        ("Ægir Þórsson", "AEGIR THORSSON"),
        ("Yıldız", "YILDIZ"),
        ("Élodie", "ELODIE"),
        ("Jean 李  Wei", "JEAN WEI"),  # any other character outside ASCII: a space, spaces collapsed
    ],
)
def test_apogee_names_are_upper_case_ascii(name, expected):
    assert upper_ascii(name) == expected
    assert upper_ascii(name).isascii()
