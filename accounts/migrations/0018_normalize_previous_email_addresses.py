import importlib

from django.db import migrations

# The frozen copies accounts 0016 wrote (``_normalize_email``: ``accounts.services.normalize_email`` as it was then,
# and its row-by-row rewrite): the previous addresses get the very form 0016 gave every other address.
_0016 = importlib.import_module("accounts.migrations.0016_normalize_email_addresses")


def normalize_previous_addresses(apps, schema_editor):
    """The addresses accounts kept before a change (``PreviousEmailAddress``, from 0014) were stored as the account
    had its address: capitals (before 0015), an ``xn--`` domain, a decomposed accent, full-width letters (before
    0016), which 0015 and 0016 rewrote everywhere else but here. ``change_email`` now keeps them normalised, and the
    helpdesk's search reads an address normalised, so such a row no longer matched the address it was. Every row
    gets the normalised form, a staff account's too (the directory's capitals are kept on ``User.email`` only, which
    the refreshes compare with; the search is case-insensitive). No unique constraint here: no row is left."""
    PreviousEmailAddress = apps.get_model("accounts", "PreviousEmailAddress")
    _0016._rewrite_each(PreviousEmailAddress, PreviousEmailAddress.objects.order_by("pk"), _0016._normalize_email)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0017_account_deletion_opi_sent"),
    ]

    operations = [migrations.RunPython(normalize_previous_addresses, migrations.RunPython.noop)]
