import logging

from django.conf import settings
from django.db import IntegrityError, migrations, transaction

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
PROVIDER_ID = "ent"  # accounts.cas.PROVIDER_ID, as it was when this migration was written
# allauth's OpenID Connect keeps what the ENT said under these keys (allauth >= 65.11, the only versions this project
# has used); the CAS callback stores its flat claims (accounts.cas.claims_from_attributes), "sub" being the uid.
OIDC_KEYS = ("id_token", "userinfo")


def is_cas_identity(uid: str, extra_data, protocol: str) -> bool:
    """A student's ``ent`` identity created by the CAS callback: its data is the callback's flat claims, whose
    ``sub`` is the uid. One whose data is empty (an identity linked by hand in the admin) is taken as CAS's only
    while the ENT speaks CAS (``ENT_PROTOCOL``). An OpenID Connect identity (its ``sub`` is opaque, and case matters
    in it) is never one."""
    if not isinstance(extra_data, dict):
        return False
    if not extra_data:
        return protocol == "cas"
    return not any(key in extra_data for key in OIDC_KEYS) and extra_data.get("sub") == uid


def lowercase_cas_identities(apps, schema_editor):
    """The CAS callback used to store a student's identity under the login as typed (Apereo CAS hands it over so:
    ``Lucas.Bernard``), and allauth finds an identity by its exact uid, so the same student typing the login in
    another case was offered « Création de compte », a second account in the campaign. The callback now stores and
    looks up the login in lower case (``accounts.cas.student_identity``); the identities stored before get their
    uid in lower case here.

    Only candidates' CAS identities: a staff member's is named by the staff account's username, which the staff path
    looks up as it is (``accounts.directory.link_ent_identity``), and an OpenID Connect ``sub`` is left as the ENT
    gave it (``is_cas_identity``). An identity whose lower-case uid another identity has already, or would get from
    this migration too (the same login stored in two cases: the account created twice), is left as it is and logged,
    for the central office to sort out (the lower-case one is the one CAS logins reach)."""
    SocialAccount = apps.get_model("socialaccount", "SocialAccount")
    identities = SocialAccount.objects.filter(provider=PROVIDER_ID, user__campaign__isnull=False)
    changing: dict[int, str] = {}
    for pk, uid in identities.values_list("pk", "uid").iterator(chunk_size=CHUNK_SIZE):
        if uid != uid.lower():
            changing[pk] = uid
    if not changing:
        return
    protocol = getattr(settings, "ENT_PROTOCOL", "oidc")
    pks = sorted(changing)
    cas: dict[int, str] = {}
    for start in range(0, len(pks), CHUNK_SIZE):
        for pk, uid, extra_data in SocialAccount.objects.filter(pk__in=pks[start : start + CHUNK_SIZE]).values_list(
            "pk", "uid", "extra_data"
        ):
            if is_cas_identity(uid, extra_data, protocol):
                cas[pk] = uid
    targets: dict[str, list[int]] = {}
    for pk, uid in cas.items():
        targets.setdefault(uid.lower(), []).append(pk)
    lowered = sorted(targets)
    taken: set[str] = set()
    for start in range(0, len(lowered), CHUNK_SIZE):
        taken.update(
            SocialAccount.objects.filter(
                provider=PROVIDER_ID, uid__in=lowered[start : start + CHUNK_SIZE]
            ).values_list("uid", flat=True)
        )
    for new_uid, pks_of in sorted(targets.items()):
        if new_uid in taken or len(pks_of) > 1:
            logger.warning(
                "ENT identity %s (social account %s) left as it is: %s is, or would be, another identity's too",
                ", ".join(cas[pk] for pk in pks_of),
                ", ".join(str(pk) for pk in pks_of),
                new_uid,
            )
            continue
        try:
            with transaction.atomic():
                SocialAccount.objects.filter(pk=pks_of[0]).update(uid=new_uid)
        except IntegrityError:  # taken meanwhile
            logger.warning("ENT identity %s left as it is: %s is another identity's", cas[pks_of[0]], new_uid)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0018_normalize_previous_email_addresses"),
        ("socialaccount", "0006_alter_socialaccount_extra_data"),
    ]

    operations = [migrations.RunPython(lowercase_cas_identities, migrations.RunPython.noop)]
