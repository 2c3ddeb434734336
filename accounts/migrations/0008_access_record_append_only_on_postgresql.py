"""On PostgreSQL, refuse UPDATE and DELETE of the personal-data access record, as for the ledger."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION accounts_access_record_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the personal-data access record is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_personaldataaccess_append_only
    BEFORE UPDATE OR DELETE ON accounts_personaldataaccess
    FOR EACH ROW EXECUTE FUNCTION accounts_access_record_is_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_personaldataaccess_append_only ON accounts_personaldataaccess;
DROP FUNCTION IF EXISTS accounts_access_record_is_append_only();
"""


def run_on_postgresql(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # A plain cursor, so the '%' placeholders of RAISE are not read as query parameters.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_phone_codes_staff_role_second_factor_resets_access_record")]

    operations = [migrations.RunPython(run_on_postgresql(CREATE), run_on_postgresql(DROP))]
