"""A question's "Unique" flag (eCandidat's, as the pieces'): unchecked, a common question is answered once and the
answer is shared by all of the candidate's applications. New questions are shared by default, as new pieces are;
the questions that exist keep today's behaviour (one answer per application), so their rows get ``True``."""

from django.db import migrations, models


def keep_existing_questions_per_application(apps, schema_editor):
    Question = apps.get_model("offers", "Question")
    Question.objects.update(is_unique=True)


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0012_commission_url_and_comment"),
    ]

    operations = [
        migrations.AddField(
            model_name="question",
            name="is_unique",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Unchecked: a common question is answered once and the answer is shared by all of the "
                    "candidate's applications."
                ),
                verbose_name="one answer per application",
            ),
        ),
        # Backwards, the column goes with the field: nothing to undo.
        migrations.RunPython(keep_existing_questions_per_application, migrations.RunPython.noop),
    ]
