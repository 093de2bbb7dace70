from django.db import migrations
from django.db.models import F, OuterRef, Subquery


def file_with_their_formation(apps, schema_editor):
    """A formation's own letter text is filed under its formation's centre (``DecisionLetterTemplate.clean``). Before
    ``offers.services.move_letter_texts``, a formation moved to another centre left its own texts under the old one:
    the letter is now found by the formation alone, but saving such a text in the admin was refused (« The formation
    must belong to the centre ») until someone picked the new centre. One UPDATE files them where their formation is;
    nothing else changes (the uniqueness of a formation's text does not involve its centre)."""
    DecisionLetterTemplate = apps.get_model("offers", "DecisionLetterTemplate")
    Formation = apps.get_model("offers", "Formation")
    formation_centre = Formation.objects.filter(pk=OuterRef("formation_id")).values("centre_id")[:1]
    DecisionLetterTemplate.objects.filter(formation__isnull=False).exclude(centre_id=F("formation__centre_id")).update(
        centre_id=Subquery(formation_centre)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0025_commission_alerts_on_by_default"),
    ]

    operations = [migrations.RunPython(file_with_their_formation, migrations.RunPython.noop)]
