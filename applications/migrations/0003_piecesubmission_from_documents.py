# The submitted pieces move from the documents app to applications (one-way layers: documents knows nothing of
# applications). No row is copied: the state moves with SeparateDatabaseAndState, then the table is renamed in
# place (documents_piecesubmission -> applications_piecesubmission), keeping every row, id, index and constraint;
# the content type follows, so admin permissions and log entries keep pointing to the model.

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor, *, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if ContentType.objects.using(db).filter(app_label=target, model="piecesubmission").exists():
        return
    ContentType.objects.using(db).filter(app_label=source, model="piecesubmission").update(app_label=target)


def forwards(apps, schema_editor):
    move_content_type(apps, schema_editor, source="documents", target="applications")


def backwards(apps, schema_editor):
    move_content_type(apps, schema_editor, source="applications", target="documents")


class Migration(migrations.Migration):

    dependencies = [
        ("applications", "0002_candidatures"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("documents", "0002_scan_signature_version"),
        ("offers", "0002_decisions_forms_alerts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PieceSubmission",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("status", models.CharField(choices=[("AT", "Waiting"), ("TR", "Submitted"), ("VA", "Validated"), ("RE", "Refused"), ("NC", "Not concerned")], default="AT", max_length=2, verbose_name="status")),
                        ("comment", models.CharField(blank=True, max_length=500, verbose_name="comment")),
                        ("status_changed_at", models.DateTimeField(blank=True, null=True, verbose_name="status changed at")),
                        ("application", models.ForeignKey(blank=True, help_text="Empty for a common piece shared by all the candidate's applications.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="pieces", to="applications.application", verbose_name="application")),
                        ("candidate", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="pieces", to="applications.candidate", verbose_name="candidate")),
                        ("document", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="submission", to="documents.document", verbose_name="file")),
                        ("piece_type", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="submissions", to="offers.piecetype", verbose_name="piece")),
                        ("status_changed_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="status changed by")),
                    ],
                    options={
                        "verbose_name": "submitted piece",
                        "verbose_name_plural": "submitted pieces",
                        "db_table": "documents_piecesubmission",
                        "constraints": [
                            models.UniqueConstraint(condition=models.Q(("application__isnull", True)), fields=("candidate", "piece_type"), name="piece_shared_once_per_candidate"),
                            models.UniqueConstraint(condition=models.Q(("application__isnull", False)), fields=("application", "piece_type"), name="piece_once_per_application"),
                            models.CheckConstraint(condition=models.Q(models.Q(("document__isnull", True), ("status__in", ["AT", "NC"])), models.Q(("document__isnull", False), ("status__in", ["TR", "VA", "RE"])), _connector="OR"), name="piece_file_matches_status"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="piecesubmission", table=None),
        migrations.RunPython(forwards, backwards),
    ]
