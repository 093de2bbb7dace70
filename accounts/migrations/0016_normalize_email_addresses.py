from django.core.validators import EmailValidator
from django.db import IntegrityError, migrations, transaction

CHUNK_SIZE = 2000


# Frozen copies of ``accounts.services.normalize_email`` and ``accounts.directory.directory_spelling`` as they were
# when this migration was written: a migration must keep doing what it did, whatever those functions become.
def _normalize_email(email: str) -> str:
    """The mailbox the address reaches, as Django sends it (the domain through Python's IDNA 2003 codec, read back in
    Unicode: ``xn--cole-9oa.fr`` is ``école.fr``, a full-width ``ｅ`` is ``e``, a decomposed accent is composed), in
    lower case. A domain the codec refuses, or whose reading is not a domain any more, stays as it is."""
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if at and domain:
        try:
            delivered = domain.encode("idna").decode("idna")
        except UnicodeError:
            delivered = domain
        if delivered != domain and EmailValidator().validate_domain_part(delivered):
            email = f"{local}@{delivered}"
    return email.lower()


def _directory_spelling(email: str) -> str:
    """A staff account's address: the domain as ``_normalize_email`` reads it, the local part with its capitals (the
    directory's spelling, which the refreshes compare with)."""
    local, at, _domain = email.strip().rpartition("@")
    if not at:
        return email
    return f"{local}@{_normalize_email(email).rpartition('@')[2]}"


def _rewrite_each(model, rows, spelling) -> None:
    """Each row of ``rows`` whose ``email`` ``spelling`` changes gets it rewritten, in its own savepoint: a row whose
    new address would break a unique constraint (another account of the same campaign has it already, another
    ``EmailAddress`` holds it as verified, or the account keeps it twice) is left as it is, as it was before.

    Read in chunks (``iterator``), keeping only the rows that change (a non-ASCII or ``xn--`` domain, capitals)."""
    changed = []
    for pk, email in rows.values_list("pk", "email").iterator(chunk_size=CHUNK_SIZE):
        if email and (new := spelling(email)) != email:
            changed.append((pk, new))
    for pk, new in changed:
        try:
            with transaction.atomic():
                model.objects.filter(pk=pk).update(email=new)
        except IntegrityError:
            continue


def normalize_addresses(apps, schema_editor):
    """Addresses stored before addresses were normalised (``accounts.services.normalize_email``: login by address,
    « J'ai oublié mes identifiants », signup and the address changes look up the normalised form) no longer matched
    themselves: a domain stored in its ASCII form (``xn--cole-9oa.fr``, as the LDAP directory gives it), with a
    decomposed accent or with full-width letters. Every allauth ``EmailAddress`` and the candidates' ``User.email``
    get the normalised form; staff accounts' ``User.email`` gets its domain normalised and keeps the directory's
    capitals (``accounts.directory.directory_spelling``, which the refreshes compare with)."""
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    _rewrite_each(EmailAddress, EmailAddress.objects.order_by("pk"), _normalize_email)
    _rewrite_each(User, User.objects.filter(campaign__isnull=False).order_by("pk"), _normalize_email)
    _rewrite_each(User, User.objects.filter(campaign__isnull=True).order_by("pk"), _directory_spelling)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0015_lowercase_email_addresses"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(normalize_addresses, migrations.RunPython.noop)]
