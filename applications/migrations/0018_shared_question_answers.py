"""Answers shared by all of a candidate's applications (a common question whose "Unique" flag is unchecked, as the
pieces' ``PieceSubmission``): ``QuestionAnswer.application`` may be empty, and every answer names its candidate.

Forwards, each existing answer gets the candidate of its application; every existing question was set "unique" by
offers 0013, so these answers stay per application. Backwards (reversible without losing an answer), each shared
answer is first copied to each of the candidate's applications that the question concerns (every formation for an
institution's question, the formations of its centre otherwise) and that has no answer of its own to it, then
removed; the copies are stamped with the time of the rollback (``answered_at`` is ``auto_now``).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def _check_constraints_now(schema_editor):
    """PostgreSQL refuses to alter a table whose rows have foreign-key checks still pending (they are deferred to the
    commit): run them now, then defer again."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def fill_candidates(apps, schema_editor):
    QuestionAnswer = apps.get_model("applications", "QuestionAnswer")
    Application = apps.get_model("applications", "Application")
    QuestionAnswer.objects.filter(candidate__isnull=True).update(
        candidate_id=Subquery(Application.objects.filter(pk=OuterRef("application_id")).values("candidate_id")[:1])
    )
    _check_constraints_now(schema_editor)


def unshare_answers(apps, schema_editor):
    QuestionAnswer = apps.get_model("applications", "QuestionAnswer")
    Application = apps.get_model("applications", "Application")
    shared = QuestionAnswer.objects.filter(application__isnull=True).select_related("question")
    for answer in shared.order_by("pk").iterator():
        applications = Application.objects.filter(candidate_id=answer.candidate_id).exclude(
            question_answers__question_id=answer.question_id
        )
        if answer.question.centre_id is not None:
            applications = applications.filter(formation__centre_id=answer.question.centre_id)
        QuestionAnswer.objects.bulk_create(
            QuestionAnswer(
                candidate_id=answer.candidate_id,
                application_id=application_id,
                question_id=answer.question_id,
                answer=answer.answer,
                not_concerned=answer.not_concerned,
                answered_by_id=answer.answered_by_id,
            )
            for application_id in applications.values_list("pk", flat=True)
        )
    shared.delete()
    _check_constraints_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0017_internal_cursus_results"),
        ("offers", "0013_question_unique"),
    ]

    operations = [
        migrations.AddField(
            model_name="questionanswer",
            name="candidate",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="question_answers",
                to="applications.candidate",
                verbose_name="candidate",
            ),
        ),
        # Backwards, the column goes with the field: nothing to undo.
        migrations.RunPython(fill_candidates, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="questionanswer",
            name="candidate",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="question_answers",
                to="applications.candidate",
                verbose_name="candidate",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="questionanswer",
            name="question_answer_unique",
        ),
        migrations.AlterField(
            model_name="questionanswer",
            name="application",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty for a common question answered once for all the candidate's applications.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="question_answers",
                to="applications.application",
                verbose_name="application",
            ),
        ),
        migrations.AddConstraint(
            model_name="questionanswer",
            constraint=models.UniqueConstraint(
                condition=models.Q(("application__isnull", False)),
                fields=("application", "question"),
                name="question_answer_once_per_application",
            ),
        ),
        migrations.AddConstraint(
            model_name="questionanswer",
            constraint=models.UniqueConstraint(
                condition=models.Q(("application__isnull", True)),
                fields=("candidate", "question"),
                name="question_answer_shared_once_per_candidate",
            ),
        ),
        # Forwards nothing is shared yet; backwards the shared answers become answers per application first.
        migrations.RunPython(migrations.RunPython.noop, unshare_answers),
    ]
