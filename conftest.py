"""Shared fixtures: the persona set (house-style §6) and small builders used across apps."""

import pytest

from offers.tests.factories import CampaignFactory

pytest_plugins = [
    "ecandidat.tests.plugins.browser",
    "ecandidat.tests.plugins.services",
    "accounts.tests.personas",
]


@pytest.fixture
def campaign(db):
    """The active campaign."""
    return CampaignFactory(is_active=True)
