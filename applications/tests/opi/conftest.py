"""OPI tests: a candidate admitted through the real services (decision entered and validated by the centre manager),
who confirms through the candidate's service."""

import pytest
from django.utils import translation

from applications.tests.factories_candidature import DecisionTypeFactory
from applications.tests.opi.helpers import make_candidate
from offers.enums import Avis
from offers.tests.factories import FormationFactory, PieceTypeFactory


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _opi_settings(pegase_opi):
    """Every OPI test: Pégase (``applications/tests/conftest.py``)."""


@pytest.fixture
def plain_favourable(db):
    return DecisionTypeFactory(code="AVIS_FAV_SANS_OPI", avis=Avis.FAVOURABLE, opi_transfer=False)


@pytest.fixture
def formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="M1ENER",
        title="MASTER 1 - ENERGIE",
        pegase_code="M1-ENER-PSOL",
        apogee_cge="PER",
        apogee_step_code="M1ENE",
        apogee_step_version="101",
        apogee_diploma_code="MENERG",
        apogee_diploma_version="1",
    )


@pytest.fixture
def other_formation(centre, commission):
    return FormationFactory(
        centre=centre,
        commission=commission,
        code="M1PHYS",
        pegase_code="M1-PHYS",
        apogee_cge="PER",
        apogee_step_code="M1PHY",
        apogee_step_version="102",
    )


@pytest.fixture
def opi_candidate(campaign):
    return make_candidate(campaign)


# The piece types of the PJ-OPI tests (``test_pieces*.py``, ``test_s46_quarantine.py``): each has an Apogée code.
@pytest.fixture
def identity(db):
    return PieceTypeFactory(code="CNI", siscol_code="CNI", is_common=True)


@pytest.fixture
def bac_marks(db):
    return PieceTypeFactory(code="RELEVE_BAC", siscol_code="RBAC")
