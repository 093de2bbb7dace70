import pytest


@pytest.fixture(autouse=True)
def _files_test_setting(files_test_setting):
    """Every documents test starts from the files tests' setting (documents/tests/fixtures.py)."""
