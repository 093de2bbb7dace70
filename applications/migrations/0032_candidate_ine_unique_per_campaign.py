"""The INE is unique within a campaign, no longer across campaigns: accounts are annual, and a returning candidate
gives, in the new campaign, the INE their archived dossier of last year still holds.

A unique constraint cannot reach the campaign through the account (a join), so the dossier gets its account's
``campaign`` (``Candidate.save()`` keeps it so from now on). Forwards: the column is added, filled from each dossier's
account, then the constraint moves from (ine) to (campaign, ine), and a dossier with an INE must have its campaign.
Backwards: the reverse, which fails while one INE is held in two campaigns (the old rule cannot hold those dossiers).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_campaigns(apps, schema_editor):
    Candidate = apps.get_model("applications", "Candidate")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Candidate.objects.filter(campaign__isnull=True).update(
        campaign_id=Subquery(User.objects.filter(pk=OuterRef("user_id")).values("campaign_id")[:1])
    )
    if schema_editor.connection.vendor == "postgresql":
        # PostgreSQL refuses to alter a table whose rows have foreign-key checks still pending (deferred to the
        # commit): run them now, then defer again (as 0018).
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0031_opi_pieces"),
        ("offers", "0024_piecetype_siscol_code"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="candidate",
            name="campaign",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="offers.campaign",
                verbose_name="campaign",
            ),
        ),
        migrations.RunPython(fill_campaigns, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="candidate",
            name="candidate_ine_unique",
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.UniqueConstraint(
                condition=models.Q(("ine", ""), _negated=True),
                fields=("campaign", "ine"),
                name="candidate_ine_unique_per_campaign",
                violation_error_code="ine_taken",
                violation_error_message="This INE has already been given to a candidate.",
            ),
        ),
        migrations.AddConstraint(
            model_name="candidate",
            constraint=models.CheckConstraint(
                condition=models.Q(("ine", ""), ("campaign__isnull", False), _connector="OR"),
                name="candidate_ine_with_campaign",
            ),
        ),
    ]
