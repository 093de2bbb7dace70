from django.db import migrations, models


def mark_imported_ines(apps, schema_editor):
    """Before this field the import wrote the SIS's INE, or blanked the dossier's when the SIS gave none: the INE of
    a dossier imported until now is the SIS's whenever it is not empty."""
    Candidate = apps.get_model("applications", "Candidate")
    Candidate.objects.filter(sis_locked=True).exclude(ine="").update(ine_from_sis=True)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0041_application_dates_frozen_on"),
    ]

    operations = [
        migrations.AddField(
            model_name="candidate",
            name="ine_from_sis",
            field=models.BooleanField(
                default=False, editable=False, verbose_name="INE from the student records system"
            ),
        ),
        migrations.RunPython(mark_imported_ines, migrations.RunPython.noop),
    ]
