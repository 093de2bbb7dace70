from django.db import migrations, models
from django.db.models import Case, DateField, F, OuterRef, Subquery, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from applications.dates import AddDays

FAVOURABLE = "FA"  # offers.enums.Avis.FAVOURABLE


def freeze_archived_campaigns(apps, schema_editor):
    """The applications of the campaigns archived before this field: the archiving froze their return deadline and
    a fixed date de confirmation then; a date de confirmation counted in days after the favourable decision is
    frozen now, as it reads today (the formation's délai as it is). They are marked frozen on their campaign's
    archiving date."""
    Application = apps.get_model("applications", "Application")
    Campaign = apps.get_model("offers", "Campaign")
    Decision = apps.get_model("applications", "Decision")
    Formation = apps.get_model("offers", "Formation")
    delay = "application__formation__confirmation_delay_days"
    counted = Case(
        When(
            decision_type__avis=FAVOURABLE,
            **{f"{delay}__isnull": False},
            then=AddDays(TruncDate("validated_at", tzinfo=timezone.get_current_timezone()), F(delay)),
        ),
        output_field=DateField(),
    )
    latest = (
        Decision.objects.filter(application=OuterRef("pk"), validated_at__isnull=False)
        .order_by("-created_at", "-id")
        .annotate(value=counted)
        .values("value")[:1]
    )
    deadline = Subquery(Formation.objects.filter(pk=OuterRef("formation_id")).values("return_deadline")[:1])
    for campaign in Campaign.objects.filter(is_active=False, archive_on__lte=timezone.localdate()):
        Application.objects.filter(campaign=campaign, dates_frozen_on__isnull=True).update(
            return_deadline_override=Coalesce(F("return_deadline_override"), deadline),
            confirmation_date_override=Coalesce(F("confirmation_date_override"), Subquery(latest)),
            dates_frozen_on=campaign.archive_on,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0040_exportjob"),
        ("offers", "0026_letter_texts_follow_their_formation"),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="dates_frozen_on",
            field=models.DateField(blank=True, editable=False, null=True, verbose_name="dates frozen on"),
        ),
        migrations.RunPython(freeze_archived_campaigns, migrations.RunPython.noop),
    ]
