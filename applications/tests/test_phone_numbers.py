"""Phone numbers: stored in E.164, shown as people write them."""

import pytest
from django.core.exceptions import ValidationError

from applications.validators import format_phone, normalise_phone


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("06 12 34 56 71", "+33612345671", "06 12 34 56 71"),
        ("0468000000", "+33468000000", "04 68 00 00 00"),
        ("+34 612 34 56 78", "+34612345678", "+34 612 34 56 78"),
        ("", "", ""),
    ],
)
def test_a_number_is_stored_in_e164_and_shown_as_written(typed, stored, shown):
    assert normalise_phone(typed) == stored
    assert format_phone(stored) == shown


def test_a_stored_value_that_is_not_a_number_is_shown_as_it_is():
    """Imported or older rows may hold anything: the reading page must not fail on them."""
    assert format_phone("standard de la mairie") == "standard de la mairie"


def test_an_invalid_number_is_refused():
    with pytest.raises(ValidationError) as refused:
        normalise_phone("12")
    assert refused.value.code == "invalid_phone"
