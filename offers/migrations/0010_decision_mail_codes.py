"""A decision type's mail is one of the decision mails: a type saved with a code no mail answers to (the field was
free text) sends the mail of its kind of decision from now on, instead of failing when a decision is validated."""

from django.db import migrations, models

# Frozen copy of offers.enums.DECISION_MAIL_BY_AVIS at the time of this migration.
DECISION_MAIL_BY_AVIS = {
    "FA": "AVIS_FAVORABLE",
    "DE": "AVIS_DEFAVORABLE",
    "LC": "AVIS_LISTE_COMP",
    "LA": "AVIS_LISTE_ATT",
    "PR": "AVIS_PRESELECTION",
}


def mail_of_its_kind(apps, schema_editor):
    DecisionType = apps.get_model("offers", "DecisionType")
    for avis, code in DECISION_MAIL_BY_AVIS.items():
        DecisionType.objects.filter(avis=avis).exclude(mail_code__in=DECISION_MAIL_BY_AVIS.values()).update(
            mail_code=code
        )


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0009_treatment_type_filter"),
    ]

    operations = [
        migrations.AlterField(
            model_name="decisiontype",
            name="mail_code",
            field=models.CharField(
                help_text="The mail sent when a decision of this type is validated.",
                max_length=60,
                verbose_name="mail code",
            ),
        ),
        migrations.RunPython(mail_of_its_kind, migrations.RunPython.noop),
    ]
