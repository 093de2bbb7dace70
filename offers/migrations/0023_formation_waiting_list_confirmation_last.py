from django.db import migrations, models
from django.db.models import F, Q


def refuse_misordered_formations(apps, schema_editor):
    """The field predates the rule: name the formations to correct (in the back office) rather than fail on an
    anonymous constraint violation."""
    Formation = apps.get_model("offers", "Formation")
    last = F("waiting_list_confirmation_date")
    codes = list(
        Formation.objects.filter(waiting_list_confirmation_date__isnull=False)
        .filter(
            Q(return_deadline__gt=last)
            | Q(jury_on__gt=last)
            | Q(publication_on__gt=last)
            | Q(confirmation_date__gt=last)
        )
        .order_by("code")
        .values_list("code", flat=True)
    )
    if codes:
        raise RuntimeError(
            "These formations have a confirmation date after a waiting-list promotion before their return deadline, "
            f"jury, publication or confirmation date; correct it, then migrate again: {', '.join(codes)}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0022_centre_formation_defaults"),
    ]

    operations = [
        migrations.RunPython(refuse_misordered_formations, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="formation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("waiting_list_confirmation_date__isnull", True),
                    models.Q(
                        ("return_deadline__lte", models.F("waiting_list_confirmation_date")),
                        models.Q(
                            ("jury_on__isnull", True),
                            ("jury_on__lte", models.F("waiting_list_confirmation_date")),
                            _connector="OR",
                        ),
                        models.Q(
                            ("publication_on__isnull", True),
                            ("publication_on__lte", models.F("waiting_list_confirmation_date")),
                            _connector="OR",
                        ),
                        models.Q(
                            ("confirmation_date__isnull", True),
                            ("confirmation_date__lte", models.F("waiting_list_confirmation_date")),
                            _connector="OR",
                        ),
                    ),
                    _connector="OR",
                ),
                name="formation_waiting_list_confirmation_last",
                violation_error_message=(
                    "The confirmation date after a waiting-list promotion must be on or after the return deadline, "
                    "the jury, the publication and the confirmation date."
                ),
            ),
        ),
    ]
