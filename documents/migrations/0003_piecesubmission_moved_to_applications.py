# applications 0003 took over the model and its table (renamed there): only the state is dropped here.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("applications", "0003_piecesubmission_from_documents"),
        ("documents", "0002_scan_signature_version"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="PieceSubmission")],
            database_operations=[],
        ),
    ]
