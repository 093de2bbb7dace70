"""Test helper: the parameters' table missing for real, as between a deployment and its migration."""

from django.db import connection

from ecandidat.models import ParameterOverride


def hide_the_overrides_table() -> None:
    """Rename the overrides' table inside the test's transaction (rolled back with it): reads fail as they would
    before ``migrate``. Patching ``_meta.db_table`` instead leaked: the fields cache their column with the table
    name of their first query, and a later test in the same process read the wrong table."""
    table = ParameterOverride._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_hidden")
