from django.db import migrations
from django.utils import timezone

BATCH = 1000


def received_when_transmitted(apps, schema_editor):
    """An online dossier transmitted before the transmission stamped its reception date (eCandidat's
    dat_recept_dossier_cand) was received that day: the exports' « Réceptionné le » and the SVA alerts counted from
    the reception date read it. A reception date staff entered is kept."""
    Application = apps.get_model("applications", "Application")
    pending = Application.objects.filter(received_on__isnull=True, transmitted_at__isnull=False).only(
        "pk", "transmitted_at", "received_on"
    )
    batch = []
    for application in pending.iterator(chunk_size=BATCH):
        application.received_on = timezone.localdate(application.transmitted_at)
        batch.append(application)
        if len(batch) == BATCH:
            Application.objects.bulk_update(batch, ["received_on"])
            batch = []
    Application.objects.bulk_update(batch, ["received_on"])


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0027_referenceotherdiploma_label_en"),
    ]

    operations = [migrations.RunPython(received_when_transmitted, migrations.RunPython.noop)]
