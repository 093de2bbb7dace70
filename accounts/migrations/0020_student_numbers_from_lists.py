import logging
import re

from django.db import migrations

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
# What ``str(["21912345"])[:20]`` or ``str([21912345])[:20]`` left: the first item of a list, quoted or not (the
# text may have been cut after it, at 20 characters).
LIST_TEXT = re.compile(r"""\[\s*(?:'([^'\[\]]*)'|"([^"\[\]]*)"|(-?\d+))\s*(?:[,\]]|$)""")


def first_item(text: str) -> str | None:
    """The student number a stored ``"['21912345']"`` meant, or None when ``text`` is not such a list's text."""
    match = LIST_TEXT.match(text)
    if match is None:
        return None
    return next(group for group in match.groups() if group is not None).strip()


def student_numbers_from_lists(apps, schema_editor):
    """An ENT student's number came from the ``supannEtuId`` claim as ``str(claim)``: a Keycloak "multivalued" mapper
    sends a list, so the account kept ``['21912345']``, which no SIS lookup finds and the OPI writes as no number.
    The claim is now read as its first item (``accounts.claims.single_value``); the accounts created before get the
    number they meant. A text that is not a list's is left as it is; one whose first item is not text nor a number
    (``[{'…``) is left too, and logged."""
    User = apps.get_model("accounts", "User")
    rows = User.objects.filter(student_number__startswith="[").values_list("pk", "student_number")
    for pk, text in list(rows.iterator(chunk_size=CHUNK_SIZE)):
        number = first_item(text)
        if number is None:
            logger.warning("student number %r of account %s left as it is: not a list's first item", text, pk)
            continue
        User.objects.filter(pk=pk).update(student_number=number[:20])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0019_lowercase_cas_identities"),
    ]

    operations = [migrations.RunPython(student_numbers_from_lists, migrations.RunPython.noop)]
