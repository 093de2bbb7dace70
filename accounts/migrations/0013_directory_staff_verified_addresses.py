from django.db import migrations


def verify_directory_addresses(apps, schema_editor):
    """Staff accounts made from the directory before their address was recorded as verified
    (``accounts.directory.record_directory_address``) get it now, as that function does: their first ENT login asked
    them to confirm it by mail. Only ``from_directory`` accounts (never candidates, never local staff); an address
    another account has verified is left alone (the staff member confirms it by mail, as before)."""
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    accounts = (
        User.objects.filter(from_directory=True, campaign__isnull=True)
        .exclude(email="")
        .exclude(pk__in=EmailAddress.objects.filter(verified=True).values("user_id"))
    )
    for user in accounts.iterator():
        email = user.email.lower()
        if EmailAddress.objects.filter(email__iexact=email, verified=True).exists():
            continue
        EmailAddress.objects.filter(user=user).exclude(email__iexact=email).delete()
        if not EmailAddress.objects.filter(user=user, email__iexact=email).update(verified=True, primary=True):
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0012_ent_backchannel_logout"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(verify_directory_addresses, migrations.RunPython.noop)]
