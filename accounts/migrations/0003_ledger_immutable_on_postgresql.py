"""On PostgreSQL, refuse UPDATE and DELETE of ledger rows: mistakes are corrected by reversing entries."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION accounts_ledger_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON accounts_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION accounts_ledger_is_append_only();
CREATE TRIGGER accounts_journaltransaction_append_only
    BEFORE UPDATE OR DELETE ON accounts_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION accounts_ledger_is_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_ledgerentry_append_only ON accounts_ledgerentry;
DROP TRIGGER IF EXISTS accounts_journaltransaction_append_only ON accounts_journaltransaction;
DROP FUNCTION IF EXISTS accounts_ledger_is_append_only();
"""


def run_on_postgresql(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # A plain cursor, so the '%' placeholders of RAISE are not read as query parameters.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_seed_regions")]

    operations = [migrations.RunPython(run_on_postgresql(CREATE), run_on_postgresql(DROP))]
