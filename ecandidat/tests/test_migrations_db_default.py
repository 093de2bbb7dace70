"""Migrations that add a NOT NULL column keep working for the code still running during an upgrade.

A release runs ``migrate`` while the previous code may still be running (gunicorn, Celery workers finishing a pack
or a release, beat, cron). Django adds a NOT NULL column with a temporary DEFAULT (the field's ``default``, or ''
for a blank text field) and drops it at once, unless the field has a ``db_default``: the old code, which does not
know the column, then inserts NULL into it and every INSERT fails (``null value in column "cancel_reason"``: every
queued mail failed; a candidate's first save of personal details answered 500). The README's "Each release" stops
those processes around ``migrate``; this test keeps new migrations from depending on that alone: a new NOT NULL
column carries a ``db_default``, which stays in the database, so the old code's INSERTs keep working.
"""

from collections.abc import Iterable

from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

PROJECT_APPS = ("accounts", "offers", "applications", "documents", "ecandidat")

# Shipped before this guard: every installation has passed these migrations, so adding a db_default now would not
# help the upgrade they belonged to. Computed once from the migrations (app, migration, "model.field"). Do not add to
# this list: a new NOT NULL column sets db_default (the same value as its default) instead.
ALREADY_SHIPPED = frozenset(
    {
        ("accounts", "0002_staff_and_numero", "user.student_number"),
        ("accounts", "0007_staff_membership_some_commissions", "staffmembership.all_commissions"),
        ("accounts", "0010_user_from_directory", "user.from_directory"),
        ("accounts", "0017_account_deletion_opi_sent", "accountdeletion.opi_sent"),
        ("applications", "0008_piece_deadline_and_merged_pack", "commissionpack.kind"),
        ("applications", "0009_decision_to_admission", "application.treatment_type"),
        ("applications", "0009_decision_to_admission", "application.withdrawal_reason"),
        ("applications", "0013_decision_after_appeal", "decision.after_appeal"),
        ("applications", "0019_bac_specialities", "baccalaureate.dropped_speciality"),
        ("applications", "0019_bac_specialities", "baccalaureate.option_1"),
        ("applications", "0019_bac_specialities", "baccalaureate.option_2"),
        ("applications", "0019_bac_specialities", "baccalaureate.option_3"),
        ("applications", "0019_bac_specialities", "baccalaureate.option_4"),
        ("applications", "0019_bac_specialities", "baccalaureate.school_uai"),
        ("applications", "0019_bac_specialities", "baccalaureate.speciality_1"),
        ("applications", "0019_bac_specialities", "baccalaureate.speciality_2"),
        ("applications", "0020_external_cursus_place", "externalcursus.city"),
        ("applications", "0020_external_cursus_place", "externalcursus.city_insee_code"),
        ("applications", "0020_external_cursus_place", "externalcursus.department"),
        ("applications", "0020_external_cursus_place", "externalcursus.diploma"),
        ("applications", "0020_external_cursus_place", "externalcursus.school_uai"),
        ("applications", "0021_regime_fees", "application.fee_exemption_comment"),
        ("applications", "0027_referenceotherdiploma_label_en", "referenceotherdiploma.label_en"),
        ("applications", "0030_opi_pegase_removal", "opi.pegase_removal"),
        ("applications", "0031_opi_pieces", "opiexport.pieces"),
        ("applications", "0042_candidate_ine_from_sis", "candidate.ine_from_sis"),
        ("applications", "0043_exportjob_application_ids", "exportjob.application_ids"),
        ("documents", "0002_scan_signature_version", "document.scanned_with"),
        ("ecandidat", "0004_outbox_lease", "outboundemail.next_attempt_at"),
        ("ecandidat", "0008_maintenance_uploads", "maintenanceswitch.uploads_message"),
        ("ecandidat", "0008_maintenance_uploads", "maintenanceswitch.uploads_paused"),
        ("ecandidat", "0009_outbox_attachments", "outboundemail.attachments"),
        ("ecandidat", "0013_batchrun_heartbeat", "batchrun.heartbeat_at"),
        ("ecandidat", "0015_outbox_cancel", "outboundemail.cancel_reason"),
        ("ecandidat", "0015_outbox_cancel", "outboundemail.topic"),
        ("offers", "0002_decisions_forms_alerts", "commission.alert_mode"),
        ("offers", "0002_decisions_forms_alerts", "commission.alert_on_cancellation"),
        ("offers", "0002_decisions_forms_alerts", "commission.alert_on_promotion"),
        ("offers", "0002_decisions_forms_alerts", "commission.alert_on_transmission"),
        ("offers", "0002_decisions_forms_alerts", "commission.alert_on_withdrawal"),
        ("offers", "0002_decisions_forms_alerts", "formation.auto_waiting_list"),
        ("offers", "0003_opi_codes", "decisiontype.opi_transfer"),
        ("offers", "0003_opi_codes", "formation.apogee_cge"),
        ("offers", "0003_opi_codes", "formation.apogee_diploma_code"),
        ("offers", "0003_opi_codes", "formation.apogee_diploma_version"),
        ("offers", "0003_opi_codes", "formation.apogee_step_code"),
        ("offers", "0003_opi_codes", "formation.apogee_step_version"),
        ("offers", "0003_opi_codes", "formation.pegase_code"),
        ("offers", "0004_decision_to_admission", "formation.treatment_type"),
        ("offers", "0005_formation_useful_dates", "formation.additional_information"),
        ("offers", "0006_centre_candidate_mail_copy", "centre.candidate_mail_copy"),
        ("offers", "0007_commission_alert_on_proposal", "commission.alert_on_proposal"),
        ("offers", "0009_treatment_type_filter", "piecetype.treatment_type"),
        ("offers", "0009_treatment_type_filter", "question.treatment_type"),
        ("offers", "0012_commission_url_and_comment", "commission.return_comment"),
        ("offers", "0012_commission_url_and_comment", "commission.url"),
        ("offers", "0013_question_unique", "question.is_unique"),
        ("offers", "0014_english_staff_texts", "complementaryform.candidate_label_en"),
        ("offers", "0014_english_staff_texts", "decisiontype.candidate_label_en"),
        ("offers", "0014_english_staff_texts", "piecetype.label_en"),
        ("offers", "0014_english_staff_texts", "question.candidate_label_en"),
        ("offers", "0015_commission_attach_letter", "commission.attach_letter_to_mail"),
        ("offers", "0016_decision_type_mail_text", "decisiontype.mail_body_en"),
        ("offers", "0016_decision_type_mail_text", "decisiontype.mail_body_fr"),
        ("offers", "0016_decision_type_mail_text", "decisiontype.mail_subject_en"),
        ("offers", "0016_decision_type_mail_text", "decisiontype.mail_subject_fr"),
        ("offers", "0017_commission_shown_statuses", "commission.shows_complete"),
        ("offers", "0017_commission_shown_statuses", "commission.shows_incomplete"),
        ("offers", "0017_commission_shown_statuses", "commission.shows_received"),
        ("offers", "0017_commission_shown_statuses", "commission.shows_waiting"),
        ("offers", "0018_english_formation_centre_commission_reason_texts", "centre.registration_instructions_en"),
        ("offers", "0018_english_formation_centre_commission_reason_texts", "commission.return_comment_en"),
        ("offers", "0018_english_formation_centre_commission_reason_texts", "formation.additional_information_en"),
        ("offers", "0018_english_formation_centre_commission_reason_texts", "formation.registration_instructions_en"),
        ("offers", "0018_english_formation_centre_commission_reason_texts", "formation.title_en"),
        ("offers", "0018_english_formation_centre_commission_reason_texts", "refusalreason.label_en"),
        ("offers", "0020_formation_preselection", "formation.preselection_place"),
        ("offers", "0022_centre_formation_defaults", "centre.default_auto_waiting_list"),
        ("offers", "0022_centre_formation_defaults", "centre.default_mode"),
        ("offers", "0024_piecetype_siscol_code", "piecetype.siscol_code"),
    }
)


def _database_operations(operations):
    for operation in operations:
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            yield from _database_operations(operation.database_operations)
        else:
            yield operation


def _not_null_additions(migration_list: Iterable[migrations.Migration]):
    """(app, migration, "model.field") and the field of every AddField adding a NOT NULL column without db_default.
    Whatever the Python default: a blank CharField without one is filled with '' only during the migration too
    (outbox 0015's cancel_reason). Many-to-many fields (no column), primary keys and generated fields are left out."""
    for migration in migration_list:
        for operation in _database_operations(migration.operations):
            if not isinstance(operation, migrations.AddField):
                continue
            field = operation.field
            if field.null or field.many_to_many or field.primary_key or getattr(field, "generated", False):
                continue
            if field.db_default is NOT_PROVIDED:
                yield (migration.app_label, migration.name, f"{operation.model_name}.{operation.name}"), field


def not_null_columns_without_db_default(
    migration_list: Iterable[migrations.Migration], allowed: frozenset = frozenset()
) -> list[str]:
    """One message per AddField of these migrations that adds a NOT NULL column without a db_default, except the
    ``allowed`` ones, saying what to do."""
    found = []
    for (app_label, name, column), field in _not_null_additions(migration_list):
        if (app_label, name, column) in allowed:
            continue
        found.append(
            f"{app_label} {name}: {column} is added NOT NULL without db_default, so the previous code, still "
            f"running during the upgrade, fails on every INSERT once migrate has dropped the temporary default. "
            f"Add db_default={_db_default_to_write(field)} to the field (default may stay), or make it null=True."
        )
    return found


def _db_default_to_write(field) -> str:
    """The value migrate fills the existing rows with, as a db_default (the schema editor's effective default)."""
    if field.has_default():
        if callable(field.default):
            name = f"{field.default.__module__}.{field.default.__qualname__}"
            return f"<the database expression of {name}(): models.functions.Now() for timezone.now>"
        return repr(field.default)
    if field.blank and field.empty_strings_allowed:
        return "''"
    return "<the value existing rows should get>"


def _project_migrations() -> list[migrations.Migration]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return [
        migration
        for (app_label, _name), migration in sorted(loader.disk_migrations.items())
        if app_label in PROJECT_APPS
    ]


def _migration(*operations) -> migrations.Migration:
    migration = migrations.Migration("0999_synthetic", "applications")
    migration.operations = list(operations)
    return migration


def test_no_new_migration_adds_a_not_null_column_without_db_default():
    project = _project_migrations()
    assert {migration.app_label for migration in project} == set(PROJECT_APPS)  # the walk found every app
    assert not_null_columns_without_db_default(project, ALREADY_SHIPPED) == []


def test_the_allowlist_names_only_shipped_offenders():
    # A stale entry (a migration renamed or squashed, a column given db_default) would hide nothing: keep it exact.
    offenders = {key for key, _field in _not_null_additions(_project_migrations())}
    assert ALREADY_SHIPPED - offenders == set()


def test_a_not_null_column_with_a_python_default_only_is_reported():
    offender = _migration(
        migrations.AddField("candidate", "new_flag", models.BooleanField(default=False)),
        # Outbox 0015's cancel_reason: no default at all, '' filled in by migrate only.
        migrations.AddField("candidate", "new_text", models.CharField(max_length=20, blank=True)),
        # ecandidat 0013's heartbeat_at: a callable default.
        migrations.AddField("candidate", "new_time", models.DateTimeField(default=timezone.now)),
    )

    found = not_null_columns_without_db_default([offender], ALREADY_SHIPPED)

    assert len(found) == 3
    assert found[0].startswith("applications 0999_synthetic: candidate.new_flag is added NOT NULL")
    assert "Add db_default=False to the field" in found[0]
    assert found[1].startswith("applications 0999_synthetic: candidate.new_text is added NOT NULL")
    assert "Add db_default='' to the field" in found[1]
    assert "Add db_default=<the database expression of django.utils.timezone.now(): models.functions.Now()" in found[2]


def test_a_column_with_db_default_or_nullable_is_not_reported():
    compliant = _migration(
        migrations.AddField("candidate", "new_flag", models.BooleanField(default=False, db_default=False)),
        migrations.AddField("candidate", "new_text", models.CharField(max_length=20, blank=True, db_default="")),
        migrations.AddField("candidate", "new_date", models.DateField(null=True, blank=True)),
        migrations.AddField("candidate", "new_tags", models.ManyToManyField("applications.Tag")),
    )

    assert not_null_columns_without_db_default([compliant], ALREADY_SHIPPED) == []
