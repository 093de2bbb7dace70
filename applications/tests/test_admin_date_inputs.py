"""Back-office ``<input type="date">``: the browser keeps only a ``YYYY-MM-DD`` value, so every such input renders
its date in ISO whatever the language (« 24/12/2099 » in French was dropped: the field showed empty)."""

import datetime
import re

import pytest
from django.utils import translation

from applications.admin.forms import DeadlinesForm, DecisionForm, StatusForm
from ecandidat.admin_inputs import IsoDateInput
from offers.admin import FormationDatesForm
from offers.models import ORDERED_DATE_FIELDS

pytestmark = pytest.mark.django_db

DAY = datetime.date(2099, 12, 24)  # after today: the deadlines form refuses a past date


def date_inputs(form) -> dict[str, str]:
    """name → value of each ``type="date"`` input of the rendered form."""
    html = str(form)
    tags = re.findall(r"<input[^>]*>", html)
    dated = [tag for tag in tags if 'type="date"' in tag]
    return {
        re.search(r'name="([^"]+)"', tag)[1]: (re.search(r'value="([^"]*)"', tag) or [None, ""])[1] for tag in dated
    }


@pytest.mark.parametrize(
    ("form_class", "fields"),
    [
        (StatusForm, ["on", "return_deadline"]),
        (DecisionForm, ["preselection_date"]),
        (DeadlinesForm, ["return_deadline", "confirmation_date"]),
        (FormationDatesForm, list(ORDERED_DATE_FIELDS)),
    ],
)
def test_an_initial_date_renders_in_iso_in_french(form_class, fields):
    with translation.override("fr"):
        form = form_class(initial=dict.fromkeys(fields, DAY))
        assert date_inputs(form) == dict.fromkeys(fields, "2099-12-24")


def test_a_posted_date_comes_back_in_iso_beside_an_error():
    with translation.override("fr"):
        form = DeadlinesForm(data={"return_deadline": "2099-12-24", "confirmation_date": "pas une date"})
        assert not form.is_valid()
        assert date_inputs(form)["return_deadline"] == "2099-12-24"


def test_the_widget_parses_iso_in_french():
    with translation.override("fr"):
        form = DeadlinesForm(data={"return_deadline": DAY.isoformat()})
        form.is_valid()
        assert form.cleaned_data["return_deadline"] == DAY
    assert IsoDateInput().format == "%Y-%m-%d"
