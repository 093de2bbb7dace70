"""Checking and rendering a staff text reads it a few times, whatever its blocks (ecandidat.mail_templates): the
former check applied a pattern with a lazy ``(.*?)`` and back-references again until nothing changed, which took
7 s for a body of 4,000 markers (72 KB) and 92 s for 16,000, on every save and preview of a mail text, a decision
type's mail text or a letter text. A text longer than ``MAX_SOURCE_LENGTH`` is refused first, next to its field
(the letter texts and the decision types' mail texts: applications/tests/test_letters_fixes.py)."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from ecandidat import mail_templates, notifications
from ecandidat.mail_templates import (
    MAX_SOURCE_LENGTH,
    TemplateSyntaxProblem,
    always_printed,
    check_source,
    render_source,
)
from ecandidat.models import MailTemplate

STATUT_IN = notifications.get("STATUT_IN")
REVIEWERS_BODY = "{if($first_name)}x" * 4000  # 72,000 characters
TOO_LONG = f"This text is too long: 72000 characters, at most {MAX_SOURCE_LENGTH}."
TOO_LONG_MSGID = "This text is too long: %(length)d characters, at most %(limit)d."
TOO_LONG_VALUES = {"length": 72000, "limit": MAX_SOURCE_LENGTH}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):  # the French catalogue may not be built: the messages are asserted in English
        yield


class _Counting:
    """A compiled pattern that adds up the length of every text it is given (one call: one reading)."""

    def __init__(self, pattern: re.Pattern, read: list[int]) -> None:
        self._pattern, self._read = pattern, read

    def __getattr__(self, name):
        attribute = getattr(self._pattern, name)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            text = args[1] if name in ("sub", "subn") else args[0]
            self._read.append(len(text))
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def characters_read(monkeypatch) -> list[int]:
    """The lengths of the texts given to the module's patterns."""
    read: list[int] = []
    for name, value in list(vars(mail_templates).items()):
        if isinstance(value, re.Pattern):
            monkeypatch.setattr(mail_templates, name, _Counting(value, read))
    return read


# --- a few readings, whatever the blocks ----------------------------------------------------------------------------


def test_a_thousand_nested_blocks_are_checked_printed_and_rendered_in_a_few_readings(characters_read):
    """The former check took off one level of blocks per reading: a thousand readings of the whole text here."""
    source = "{if($first_name)}" * 1000 + "Bonjour ${first_name}" + "{endif($first_name)}" * 1000

    assert check_source(source, STATUT_IN) == {"first_name"}
    assert sum(characters_read) <= 5 * len(source)
    assert always_printed(source) == set()  # inside the blocks only
    assert render_source(source, {"first_name": "Estelle"}) == "Bonjour Estelle"
    assert render_source(source, {"first_name": ""}) == ""
    assert sum(characters_read) <= 12 * len(source)


def test_four_thousand_unclosed_blocks_under_the_limit_are_refused_naming_the_first():
    """The former pattern read the rest of the text from each of them (3 s)."""
    source = "{if($first_name)}x" * 2700  # 48,600 characters

    with pytest.raises(TemplateSyntaxProblem) as error:
        check_source(source, STATUT_IN)

    assert str(error.value) == (
        "The block “{if($first_name)}” is not closed or not opened: write {if($name)}…{endif($name)}."
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("${" * 24_000, "A “${” is not closed: write ${name}, with a name from the list."),
        ("{if(" * 12_000, None),  # text, not a marker: accepted as it is
        ("{endif($first_name" * 2_500, None),
        ("{if($first_name)}" * 2_900 + "{endif($first_name)}", "The block “{if($first_name)}” is not closed"),
    ],
)
def test_texts_that_look_like_markers_many_times_get_the_same_answers(source, message):
    """Each of these read the rest of the text again from every unclosed ``${`` or ``{if(``: seconds each."""
    assert len(source) <= MAX_SOURCE_LENGTH
    if message is None:
        assert check_source(source, STATUT_IN) == set()
    else:
        with pytest.raises(TemplateSyntaxProblem, match=re.escape(message)):
            check_source(source, STATUT_IN)


# --- the same syntax ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "used"),
    [
        ("{if($comment)}a{if(!$comment)}b{endif(!$comment)}c{endif($comment)}", {"comment"}),
        ("{if($comment)}{if($first_name)}x{endif($comment)}y{endif($first_name)}", {"comment", "first_name"}),
        ("{if($comment)}{if($comment)}x{endif($comment)}{endif($comment)}", {"comment"}),
        ("{if($comment)}x{endif($comment)}{if($comment)}${first_name}{endif($comment)}", {"comment", "first_name"}),
    ],
)
def test_blocks_accepted_before_are_accepted(source, used):
    """Blocks nest, cross (on different names) or follow one another, as the former check let them."""
    assert check_source(source, STATUT_IN) == used


@pytest.mark.parametrize(
    ("source", "marker"),
    [
        ("{endif($comment)}{if($comment)}", "{endif($comment)}"),
        ("{if($comment)}x{endif(!$comment)}", "{if($comment)}"),
        ("{if($comment)}x{endif($comment)}{endif($comment)}", "{endif($comment)}"),
        ("a {if( comment)} b", "{if( comment)}"),
        ("{if($comment)}{endif($first_name)}{if($first_name)}{endif($comment)}", "{endif($first_name)}"),
    ],
)
def test_blocks_refused_before_are_refused_naming_the_same_marker(source, marker):
    with pytest.raises(TemplateSyntaxProblem) as error:
        check_source(source, STATUT_IN)

    assert str(error.value) == (
        f"The block “{marker}” is not closed or not opened: write {{if($name)}}…{{endif($name)}}."
    )


def test_unknown_names_are_listed_as_before_placeholders_then_outer_blocks_first():
    source = "${rank} {if($x)}{if($y)}a{endif($y)}{endif($x)}{if($z)}b{endif($z)}"

    with pytest.raises(TemplateSyntaxProblem) as error:
        check_source(source, STATUT_IN)

    assert "STATUT_IN: ${rank}, ${x}, ${z}, ${y}." in str(error.value)


def test_a_block_inside_a_block_on_the_same_name_goes_whole():
    """The former rendering paired the outer {if(…)} with the inner {endif(…)} and printed the other marker."""
    source = "A{if($comment)}{if($comment)}x{endif($comment)}y{endif($comment)}B"

    assert render_source(source, {"comment": ""}) == "AB"
    assert render_source(source, {"comment": "c"}) == "AxyB"


def test_a_passage_is_kept_when_every_block_around_it_is():
    source = "{if($comment)}a{if($first_name)}b{endif($comment)}c{endif($first_name)}"

    assert render_source(source, {"comment": "", "first_name": "E"}) == "c"
    assert render_source(source, {"comment": "x", "first_name": ""}) == "a"
    assert render_source(source, {"comment": "x", "first_name": "E"}) == "abc"


def test_always_printed_tries_every_combination_at_once():
    both = "{if($a)}${link}{endif($a)}{if(!$a)}${link}{endif(!$a)}"
    crossed = "{if($a)}{if(!$b)}${other}{endif($a)}{endif(!$b)}{if($b)}${other}{endif($b)}"

    assert always_printed(both + " ${name}") == {"link", "name"}
    assert always_printed(crossed) == set()  # neither $a nor $b set: not printed
    assert always_printed("{if($a)}${x}{endif($a)}{if(!$a)}{if($b)}${x}{endif($b)}{endif(!$a)}") == set()


def test_past_ten_names_a_variable_counts_only_outside_every_block():
    blocks = "".join(f"{{if($n{i})}}.{{endif($n{i})}}" for i in range(11))

    assert always_printed(blocks + "{if(!$n0)}${link}{endif(!$n0)}${name}") == {"name"}


# --- the limit, next to the field -----------------------------------------------------------------------------------


def test_the_reviewers_body_is_refused_at_once_for_its_length(characters_read):
    with pytest.raises(TemplateSyntaxProblem) as error:
        check_source(REVIEWERS_BODY, STATUT_IN)

    assert str(error.value) == TOO_LONG
    assert characters_read == []  # not read at all


def test_a_mail_text_too_long_is_refused_next_to_its_body():
    template = MailTemplate(code="STATUT_IN", language="fr", subject="Dossier", body=REVIEWERS_BODY)

    with pytest.raises(ValidationError) as error:
        template.clean()

    assert error.value.message_dict == {"body": [TOO_LONG]}


@pytest.mark.django_db
def test_the_preview_of_a_text_too_long_says_so(client, central_manager, django_assert_num_queries):
    client.force_login(central_manager)
    data = {"code": "STATUT_IN", "language": "fr", "subject": "Dossier", "body": REVIEWERS_BODY, "in_service": "on"}

    with django_assert_num_queries(7):
        response = client.post(reverse("admin:ecandidat_mailtemplate_preview"), data)

    assert response.status_code == 200
    with translation.override("fr"):  # the back office's language: the French message once the catalogue is built
        assert response.context["errors"] == [translation.gettext(TOO_LONG_MSGID) % TOO_LONG_VALUES]
    assert "body" not in response.context
