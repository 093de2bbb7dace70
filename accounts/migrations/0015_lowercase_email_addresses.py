from django.db import IntegrityError, migrations, transaction


def _lower_each(model, rows) -> None:
    """Each row of ``rows`` whose ``email`` has capitals gets it in lower case (Python's ``str.lower``, as allauth
    lowers addresses, whatever the database's LOWER does with accents), in its own savepoint: a row whose lower-case
    address would break a unique constraint (the same address, in other capitals, verified by another account or
    kept twice by one account) is left as it is, as it was before."""
    changed = [(pk, email) for pk, email in rows.values_list("pk", "email").iterator() if email != email.lower()]
    for pk, email in changed:
        try:
            with transaction.atomic():
                model.objects.filter(pk=pk).update(email=email.lower())
        except IntegrityError:
            continue


def lowercase_addresses(apps, schema_editor):
    """Addresses that « Modifier mon adresse mail » and the helpdesk's change stored as typed, capitals included
    (``accounts.services.change_email`` now lowers them): allauth looks addresses up with an exact match on the
    lower-cased address, so « J'ai oublié mes identifiants » found nobody for them. Every allauth ``EmailAddress``,
    and the candidates' ``User.email`` (unique per campaign on ``Lower(email)``, so lowering it breaks nothing).
    Staff accounts keep the spelling of the directory, which the nightly refresh compares with; their allauth address
    is already in lower case (``accounts.directory.record_directory_address``)."""
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    _lower_each(EmailAddress, EmailAddress.objects.order_by("pk"))
    _lower_each(User, User.objects.filter(campaign__isnull=False).order_by("pk"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0014_previous_email_addresses"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(lowercase_addresses, migrations.RunPython.noop)]
