"""The Apogée OPI file (docs/opi-apogee.md): columns, one row per wish, withdrawals sent as the remaining wishes."""

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from applications.enums import OpiState
from applications.models import Baccalaureate, Candidate, Opi, ReferenceFeeExemption, ReferenceRegime
from applications.opi.apogee import COLUMNS, fee_amount_text
from applications.opi.backends import ApogeeFileBackend, PegaseFilesBackend, get_backend
from applications.opi.services import cancel_opis, transfer_opis
from applications.opi.transfer import OpiCandidate
from applications.services.registration import set_regime_and_fees
from applications.tests.opi.helpers import DAY1, admit, confirm, make_candidate, parse, withdraw_after_confirmation
from ecandidat.batches import Report


@pytest.fixture(autouse=True)
def _apogee(settings):
    settings.OPI_BACKEND = "apogee"


def rows_of(export):
    (name, text), *others = export.files.items()
    assert not others
    return name, *parse(text)


def test_the_backend_follows_the_setting(settings):
    assert isinstance(get_backend(), ApogeeFileBackend)
    settings.OPI_BACKEND = "pegase"
    assert isinstance(get_backend(), PegaseFilesBackend)
    settings.OPI_BACKEND = "none"
    assert get_backend() is None


def test_apogee_file_column_by_column(opi_candidate, formation, centre_manager, opi_type, time_machine):
    time_machine.move_to(DAY1)
    confirm(admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type))

    name, header, rows = rows_of(transfer_opis(Report()))

    assert name == "opi-apogee-20260706.csv"
    assert header == COLUMNS
    assert rows == [
        {
            "COD_OPI_INT_EPO": "ECAB123456",
            "COD_ETU_OPI": "21901234",
            "LIB_NOM_PAT_IND_OPI": "DUPONT",
            "LIB_NOM_USU_IND_OPI": "MARTIN",
            "LIB_PR1_IND_OPI": "ELODIE",  # upper case, no accents
            "LIB_PR2_IND_OPI": "MARIE",
            "COD_NNE_IND_OPI": "1234567890",
            "COD_CLE_NNE_IND_OPI": "A",
            "COD_SEX_ETU_OPI": "F",
            "DATE_NAI_IND_OPI": "03022001",
            "TEM_DATE_NAI_REL_OPI": "N",
            "COD_PAY_NAT": "100",
            "LIB_VIL_NAI_ETU_OPI": "PERPIGNAN",
            "COD_TYP_DEP_PAY_NAI": "D",
            "COD_DEP_PAY_NAI": "066",  # Apogée's DEPARTEMENT code, on 3 characters
            "ADR_MAIL_OPI": "ab123456@example.org",
            "NUM_TEL_POR_OPI": "+33612345678",
            "COD_BAC": "GEN",
            "COD_DEP_BAC": "066",
            "COD_ETB": "",  # the bac's school UAI (test_bac_specialities.py)
            "COD_MNB": "AB",
            "DAA_OBT_BAC_OBA": "2019",
            "COD_SPE1_BAC_TER": "",  # a bac of 2019: no spécialités
            "COD_SPE2_BAC_TER": "",
            "COD_SPE_BAC_PRE": "",
            "COD_OPT1_BAC": "",
            "COD_OPT2_BAC": "",
            "COD_OPT3_BAC": "",
            "COD_OPT4_BAC": "",
            "COD_PAY_ADR": "100",
            "COD_BDI_ADR": "66000",
            "COD_COM_ADR": "",  # the SIS's communes were never refreshed here (test_commune_codes.py)
            "LIB_AD1": "12 rue des Lilas",
            "LIB_AD2": "Appartement 3",
            "LIB_AD3": "Résidence Les Pins",
            "LIB_ADE": "",
            "NUM_TEL": "+33468000000",
            "COD_CGE": "PER",
            "COD_ETP": "M1ENE",
            "COD_VRS_VET": "101",
            "COD_DIP": "MENERG",
            "COD_VRS_VDI": "1",
            "NUM_CLS": "1",
            "COD_DEC_VEU": "F",
            "COD_DEM_DOS": "C",
            "TEM_VAL_PSD": "N",
            "COD_RGE": "",  # no régime nor fees entered (test_regime_fees.py)
            "COD_CAT_EXO_EXT": "",
            "COM_EXO_EXT": "",
        }
    ]


def test_withdrawal_of_the_only_wish_sends_an_empty_wish_row(
    opi_candidate, formation, centre_manager, opi_type, time_machine
):
    time_machine.move_to(DAY1)
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)
    transfer_opis(Report())
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    withdraw_after_confirmation(application, actor=opi_candidate.user)

    _name, _header, rows = rows_of(transfer_opis(Report()))

    assert len(rows) == 1
    assert rows[0]["COD_OPI_INT_EPO"] == "ECAB123456"
    # Apogée drops the candidate's wishes: every wish column is empty, from COD_CGE to COM_EXO_EXT.
    assert [rows[0][column] for column in COLUMNS[COLUMNS.index("COD_CGE") :]] == [""] * 12
    assert Opi.objects.get().state == OpiState.PASSED

    time_machine.move_to(DAY1 + datetime.timedelta(days=2))
    assert transfer_opis(Report()) is None  # and not again the day after


def test_withdrawal_with_another_wish_left_sends_the_remaining_wish(
    opi_candidate, formation, other_formation, centre_manager, opi_type, time_machine
):
    time_machine.move_to(DAY1)
    first = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    second = admit(opi_candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    confirm(first)
    confirm(second)
    transfer_opis(Report())
    time_machine.move_to(DAY1 + datetime.timedelta(days=1))
    withdraw_after_confirmation(first, actor=opi_candidate.user)

    _name, _header, rows = rows_of(transfer_opis(Report()))

    assert [row["COD_ETP"] for row in rows] == ["M1PHY"]


def test_a_formation_without_apogee_step_waits(opi_candidate, formation, centre_manager, opi_type):
    formation.apogee_step_code = ""
    formation.save()
    confirm(admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type))
    report = Report()

    assert transfer_opis(report) is None
    assert report.counts["wishes waiting for a formation code"] == 1


def test_each_wish_carries_its_regime_and_fees(
    opi_candidate, formation, other_formation, centre_manager, opi_type, time_machine, settings
):
    """eCandidat's voeu: codRge = the application's régime, codCatExoExt = its exemption category, comExoExt = the
    amount payable (siscol-pegase-apogee.md §3.2), per wish."""
    settings.SIS_REGIME_ENTRY = True
    time_machine.move_to(DAY1)
    first = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    second = admit(opi_candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    set_regime_and_fees(
        first,
        actor=centre_manager,
        regime=ReferenceRegime.objects.get(code="5"),
        fee_exemption=ReferenceFeeExemption.objects.get(code="EP"),
        fee_exemption_comment="50 %",
        fee_amount=Decimal("85.5"),
    )
    set_regime_and_fees(second, actor=centre_manager, regime=ReferenceRegime.objects.get(code="1"))
    confirm(first)
    confirm(second)

    _name, header, rows = rows_of(transfer_opis(Report()))

    assert header[-3:] == ["COD_RGE", "COD_CAT_EXO_EXT", "COM_EXO_EXT"]
    by_step = {row["COD_ETP"]: row for row in rows}
    first_row = by_step[formation.apogee_step_code]
    second_row = by_step[other_formation.apogee_step_code]
    assert (first_row["COD_RGE"], first_row["COD_CAT_EXO_EXT"], first_row["COM_EXO_EXT"]) == ("5", "EP", "85.50")
    assert (second_row["COD_RGE"], second_row["COD_CAT_EXO_EXT"], second_row["COM_EXO_EXT"]) == ("1", "", "")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (None, ""),
        (Decimal("0"), "0.00"),
        (Decimal("99999999.99"), "99999999.99"),
        (Decimal("1234567890123.45"), ""),  # longer than Apogée's 15 characters: left out, as eCandidat does
    ],
)
def test_com_exo_ext_is_the_amount_when_it_fits(amount, text):
    assert fee_amount_text(amount) == text


def test_a_cancelled_opi_keeps_its_wish_in_the_candidates_later_files(
    opi_candidate, formation, other_formation, centre_manager, central_manager, opi_type, time_machine
):
    # eCandidat's "annuler" stamps the row as passed: the wish is still the candidate's and stays in their files.
    time_machine.move_to(DAY1)
    first = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(first)
    assert cancel_opis(opi_ids=[first.opi.pk], actor=central_manager) == 1
    assert transfer_opis(Report()) is None  # nothing new: no file
    second = admit(opi_candidate, other_formation, manager=centre_manager, decision_type=opi_type)
    confirm(second)

    _name, _header, rows = rows_of(transfer_opis(Report()))

    assert [row["COD_ETP"] for row in rows] == ["M1ENE", "M1PHY"]
    assert dict(Opi.objects.values_list("application_id", "state")) == {
        first.pk: OpiState.CANCELLED,
        second.pk: OpiState.PASSED,
    }


# --- Names Apogée's ASCII columns cannot hold (docs/opi-apogee.md, "Names Apogée cannot hold") --------------------

NOT_LATIN = '%s "%s" is not in Latin letters: enter it in Latin letters (as on the passport) in the dossier'
TOO_LONG = '%s "%s" is longer than %d characters once written without accents (%s): shorten it in the dossier'


def two_candidates(campaign, formation, centre_manager, opi_type, **refused_fields):
    """Two candidates who confirmed, in this order: AB123456 (the fixture's names), AB654321 (``refused_fields``)."""
    ok = admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)
    other = make_candidate(campaign, username="AB654321", ine="2234567890B", **refused_fields)
    refused = admit(other, formation, manager=centre_manager, decision_type=opi_type)
    confirm(ok)
    confirm(refused)
    return ok, refused


def opi_state(application):
    return Opi.objects.get(application=application).state


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"birth_name": "ИВАНОВ"}, NOT_LATIN % ("birth name", "ИВАНОВ")),  # Cyrillic
        ({"birth_name": "ΠΑΠΑΔΟΠΟΥΛΟΣ"}, NOT_LATIN % ("birth name", "ΠΑΠΑΔΟΠΟΥΛΟΣ")),  # Greek
        (
            {"birth_name": "王", "first_name": "小明"},
            "; ".join([NOT_LATIN % ("birth name", "王"), NOT_LATIN % ("first name", "小明")]),
        ),
        ({"first_name": "عبدالله"}, NOT_LATIN % ("first name", "عبدالله")),  # Arabic
        ({"usual_name": "Иванова"}, NOT_LATIN % ("usual name", "Иванова")),  # optional, but not empty
        ({"other_first_name": "Мария"}, NOT_LATIN % ("other first name", "Мария")),
        ({"birth_name": "Marie-王"}, NOT_LATIN % ("birth name", "Marie-王")),  # would lose a letter: "MARIE-"
        (
            {"birth_city": "Москва", "birth_country": "RU", "birth_department": ""},
            'city of birth "Москва" is not in Latin letters: enter it in Latin letters in the dossier',
        ),
    ],
)
def test_a_name_in_another_script_refuses_the_candidate_and_the_others_go(
    campaign, formation, centre_manager, opi_type, fields, error
):
    """upper_ascii turned every letter of another script into a space: the row went with an empty surname or first
    name (IND_OPI refuses it, or the §3.3 match by name cannot find it) while the OPI was marked transferred."""
    ok, refused = two_candidates(campaign, formation, centre_manager, opi_type, **fields)
    report = Report()

    _name, _header, rows = rows_of(transfer_opis(report))

    assert [row["COD_OPI_INT_EPO"] for row in rows] == ["ECAB123456"]  # the other candidate is written
    assert report.errors == [f"dossier AB654321: {error}"]
    assert (opi_state(ok), opi_state(refused)) == (OpiState.PASSED, OpiState.PENDING)
    assert Opi.objects.get(application=refused).passed_at is None


def test_the_refusal_reads_in_french_for_the_central_office(campaign, formation, centre_manager, opi_type):
    two_candidates(campaign, formation, centre_manager, opi_type, birth_name="ИВАНОВ")
    report = Report()

    with translation.override("fr"):
        transfer_opis(report)

    assert report.errors == [
        (
            "dossier AB654321 : nom patronymique « ИВАНОВ » n'est pas en lettres latines : saisissez-le en lettres "
            "latines (comme sur le passeport) dans le dossier"
        )
    ]


def test_the_name_fixed_in_the_dossier_goes_with_the_next_run(
    campaign, formation, centre_manager, opi_type, time_machine
):
    time_machine.move_to(DAY1)
    _ok, refused = two_candidates(campaign, formation, centre_manager, opi_type, birth_name="ИВАНОВ")
    transfer_opis(Report())
    Candidate.objects.filter(pk=refused.candidate_id).update(birth_name="IVANOV")  # as on the passport
    report = Report()

    _name, _header, rows = rows_of(transfer_opis(report))

    assert report.errors == []
    assert [(row["COD_OPI_INT_EPO"], row["LIB_NOM_PAT_IND_OPI"]) for row in rows] == [
        ("ECAB123456", "DUPONT"),  # transferred earlier the same day: the day's file is rewritten whole
        ("ECAB654321", "IVANOV"),
    ]
    assert opi_state(refused) == OpiState.PASSED


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"birth_name": "ŒUVRE" + "A" * 25}, TOO_LONG % ("birth name", "ŒUVRE" + "A" * 25, 30, "OEUVRE" + "A" * 25)),
        ({"usual_name": "Æ" * 16}, TOO_LONG % ("usual name", "Æ" * 16, 30, "AE" * 16)),  # 16 characters, 32 written
        (
            {"first_name": "Þorsteinn-AAAAAAAAAA"},
            TOO_LONG % ("first name", "Þorsteinn-AAAAAAAAAA", 20, "THORSTEINN-AAAAAAAAAA"),
        ),
        (
            {"other_first_name": "Meißner" + "A" * 13},
            TOO_LONG % ("other first name", "Meißner" + "A" * 13, 20, "MEISSNER" + "A" * 13),
        ),
    ],
)
def test_a_name_longer_than_apogees_column_once_transliterated_is_refused(
    campaign, formation, centre_manager, opi_type, fields, error
):
    ok, refused = two_candidates(campaign, formation, centre_manager, opi_type, **fields)
    report = Report()

    _name, _header, rows = rows_of(transfer_opis(report))

    assert [row["COD_OPI_INT_EPO"] for row in rows] == ["ECAB123456"]
    assert report.errors == [f"dossier AB654321: {error}"]
    assert (opi_state(ok), opi_state(refused)) == (OpiState.PASSED, OpiState.PENDING)


def test_names_in_latin_letters_are_written_as_before(opi_candidate, formation, centre_manager, opi_type):
    Candidate.objects.filter(pk=opi_candidate.pk).update(
        birth_name="NGUYỄN ĐẶNG",
        usual_name="",  # optional and empty: allowed
        first_name="Łukasz",
        other_first_name="",
        birth_city="Tokyo 東京",  # letters left: written without the others
    )
    long_name = "ŒUVRE" + "A" * 24  # 29 characters, 30 written: fits
    other = make_candidate(opi_candidate.user.campaign, username="AB654321", ine="2234567890B", birth_name=long_name)
    confirm(admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type))
    confirm(admit(other, formation, manager=centre_manager, decision_type=opi_type))
    report = Report()

    _name, _header, rows = rows_of(transfer_opis(report))

    assert report.errors == []
    assert [
        (row["LIB_NOM_PAT_IND_OPI"], row["LIB_NOM_USU_IND_OPI"], row["LIB_PR1_IND_OPI"], row["LIB_PR2_IND_OPI"])
        for row in rows
    ] == [("NGUYEN DANG", "", "LUKASZ", ""), ("OEUVRE" + "A" * 24, "MARTIN", "ELODIE", "MARIE")]
    assert rows[0]["LIB_VIL_NAI_ETU_OPI"] == "TOKYO"
    assert set(Opi.objects.values_list("state", flat=True)) == {OpiState.PASSED}


def test_the_backend_puts_the_refused_candidate_in_its_errors(campaign, formation, centre_manager, opi_type):
    """The backend's own answer (``TransferResult``), as a caller other than the nightly run reads it."""
    ok, refused = two_candidates(campaign, formation, centre_manager, opi_type, birth_name="ИВАНОВ")
    entries = [
        OpiCandidate(candidate=Candidate.objects.get(pk=application.candidate_id), wishes=[application])
        for application in (ok, refused)
    ]

    result = ApogeeFileBackend().transfer(entries, campaign=campaign, day=DAY1.date())

    assert result.errors == {refused.candidate_id: NOT_LATIN % ("birth name", "ИВАНОВ")}
    assert result.passed == {ok.pk}
    (_name, text), *_others = result.files.items()
    assert [row["COD_OPI_INT_EPO"] for row in parse(text)[1]] == ["ECAB123456"]


def test_a_refused_candidate_takes_no_slot_of_the_cap(campaign, formation, centre_manager, opi_type, settings):
    """Refused before the cap counts them (as a candidate without an address): they do not block the queue."""
    settings.OPI_BATCH_MAX = 1
    other = make_candidate(campaign, username="AB654321", ine="2234567890B", birth_name="ИВАНОВ")
    refused = admit(other, formation, manager=centre_manager, decision_type=opi_type)
    ok = admit(make_candidate(campaign), formation, manager=centre_manager, decision_type=opi_type)
    confirm(refused)  # first in the queue
    confirm(ok)
    report = Report()

    _name, _header, rows = rows_of(transfer_opis(report))

    assert [row["COD_OPI_INT_EPO"] for row in rows] == ["ECAB123456"]
    assert (opi_state(ok), opi_state(refused)) == (OpiState.PASSED, OpiState.PENDING)
    assert "candidates left for the next run" not in report.counts


def test_the_apogee_code_keeps_its_prefix(opi_candidate, formation, centre_manager, opi_type):
    application = admit(opi_candidate, formation, manager=centre_manager, decision_type=opi_type)
    confirm(application)

    transfer_opis(Report())

    assert Opi.objects.get(application=application).code == "ECAB123456"  # COD_OPI_INT_EPO (§3.2)


# --- Départements on Apogée's 3 characters (docs/opi-apogee.md, columns 15 and 19) --------------------------------


@pytest.mark.parametrize(
    ("birth", "bac_department", "expected"),
    [
        # (birth country, département as the dossier stores it), the bac's département → (codTypDepPayNai,
        # codDepPayNai, codDep of the bac)
        (("FR", "2A"), "2B", ("D", "02A", "02B")),  # Corsica
        (("FR", "66"), "66", ("D", "066", "066")),  # mainland
        (("FR", "01"), "75", ("D", "001", "075")),  # a leading zero of its own
        (("FR", "971"), "974", ("D", "971", "974")),  # overseas: already 3 characters
        (("GP", ""), "971", ("D", "971", "971")),  # Guadeloupe picked as the country
        (("JM", ""), "", ("P", "426", "")),  # born abroad: the country code, unchanged; a bac with no département
    ],
    ids=["corsica", "mainland", "ain", "overseas", "guadeloupe-as-country", "abroad"],
)
def test_the_departements_are_written_on_apogees_three_characters(
    campaign, formation, centre_manager, opi_type, birth, bac_department, expected
):
    """Apogée's DEPARTEMENT codes are "066", "02A" (what the SIS import strips back to the dossier's "66", "2A"):
    COD_DEP_PAY_NAI and COD_DEP_BAC were written as stored, "66" or "2A", which no DEPARTEMENT row carries."""
    country, department = birth
    candidate = make_candidate(campaign, birth_country=country, birth_department=department)
    Baccalaureate.objects.filter(candidate=candidate).update(department=bac_department)
    confirm(admit(candidate, formation, manager=centre_manager, decision_type=opi_type))

    _name, _header, (row,) = rows_of(transfer_opis(Report()))

    assert (row["COD_TYP_DEP_PAY_NAI"], row["COD_DEP_PAY_NAI"], row["COD_DEP_BAC"]) == expected
