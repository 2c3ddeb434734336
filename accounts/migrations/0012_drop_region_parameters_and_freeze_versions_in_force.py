"""Drop the region fields that moved into versions; on PostgreSQL, refuse changes to what is in force.

The trigger refuses UPDATE and DELETE of a policy version from the day it takes effect, and of a premium
year's rates from its 1 January, by the citizens' calendar (Asia/Shanghai): a correction is a new row. Only
an UPDATE that writes the row back as it was passes. The
models refuse the same on every database; the trigger stands behind them, as the ledger's does.
"""

import django.db.models.deletion
from django.db import migrations, models

CREATE = """
-- Writing a row back as it was edits nothing (loading a fixture does that, with created_at to the
-- millisecond, as Django's serializer writes times).
CREATE OR REPLACE FUNCTION accounts_row_unchanged(old jsonb, new jsonb) RETURNS boolean AS $$
    SELECT old - 'created_at' = new - 'created_at'
       AND date_trunc('milliseconds', (old ->> 'created_at')::timestamptz)
         = date_trunc('milliseconds', (new ->> 'created_at')::timestamptz);
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION accounts_policy_version_is_final() RETURNS trigger AS $$
DECLARE
    today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
BEGIN
    IF TG_OP = 'UPDATE' AND accounts_row_unchanged(to_jsonb(OLD), to_jsonb(NEW)) THEN
        RETURN NEW;
    END IF;
    IF OLD.effective_from <= today OR (TG_OP = 'UPDATE' AND NEW.effective_from <= today) THEN
        RAISE EXCEPTION 'policy version % is in force since %: % refused, a correction is a new version',
            OLD.id, OLD.effective_from, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_policyversion_final_once_in_force
    BEFORE UPDATE OR DELETE ON accounts_policyversion
    FOR EACH ROW EXECUTE FUNCTION accounts_policy_version_is_final();

CREATE OR REPLACE FUNCTION accounts_premium_rate_is_final() RETURNS trigger AS $$
DECLARE
    this_year integer := extract(year FROM (now() AT TIME ZONE 'Asia/Shanghai'))::integer;
BEGIN
    IF TG_OP = 'UPDATE' AND accounts_row_unchanged(to_jsonb(OLD), to_jsonb(NEW)) THEN
        RETURN NEW;
    END IF;
    IF OLD.year <= this_year OR (TG_OP = 'UPDATE' AND NEW.year <= this_year) THEN
        RAISE EXCEPTION 'premium rates % of year % are in force: % refused', OLD.id, OLD.year, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_premiumrate_final_once_in_force
    BEFORE UPDATE OR DELETE ON accounts_premiumrate
    FOR EACH ROW EXECUTE FUNCTION accounts_premium_rate_is_final();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_policyversion_final_once_in_force ON accounts_policyversion;
DROP TRIGGER IF EXISTS accounts_premiumrate_final_once_in_force ON accounts_premiumrate;
DROP FUNCTION IF EXISTS accounts_policy_version_is_final();
DROP FUNCTION IF EXISTS accounts_premium_rate_is_final();
DROP FUNCTION IF EXISTS accounts_row_unchanged(jsonb, jsonb);
"""


def run_on_postgresql(sql):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # A plain cursor, so the '%' placeholders of RAISE are not read as query parameters.
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [("accounts", "0011_move_region_parameters_into_versions")]

    operations = [
        migrations.AlterField(
            model_name="monthlycredit",
            name="person",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="monthly_credits",
                to="accounts.person", verbose_name="参保人",
            ),
        ),
        migrations.AlterField(
            model_name="monthlycredit",
            name="entry",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT, related_name="monthly_credit",
                to="accounts.ledgerentry", verbose_name="账务明细",
            ),
        ),
        migrations.RemoveField(model_name="monthlycredit", name="transaction"),
        migrations.AlterField(
            model_name="monthlycredit",
            name="version",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="monthly_credits",
                to="accounts.policyversion", verbose_name="政策参数版本",
            ),
        ),
        migrations.RemoveConstraint(
            model_name='monthlycredit',
            name='one_credit_per_account_month',
        ),
        migrations.RemoveConstraint(
            model_name='region',
            name='region_credit_rate_is_a_percentage',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='employee_credit_rate',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='ltc_premium',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='max_sharing_relatives',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='premium_year',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='quota_quiet_from',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='quota_quiet_until',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='quota_topup_limit',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='quota_topups_per_day',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='resident_premium',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='retiree_monthly_credit',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='sharing_scope',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='sharing_scope_since',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='withdrawal_payment_days',
        ),
        migrations.RemoveField(
            model_name='historicalregion',
            name='withdrawal_review_days',
        ),
        migrations.AddConstraint(
            model_name='monthlycredit',
            constraint=models.UniqueConstraint(condition=models.Q(('repeated', False)), fields=('month', 'person'), name='one_credit_per_person_and_month'),
        ),
        migrations.RemoveField(
            model_name='monthlycredit',
            name='computation',
        ),
        migrations.RemoveField(
            model_name='region',
            name='employee_credit_rate',
        ),
        migrations.RemoveField(
            model_name='region',
            name='ltc_premium',
        ),
        migrations.RemoveField(
            model_name='region',
            name='max_sharing_relatives',
        ),
        migrations.RemoveField(
            model_name='region',
            name='premium_year',
        ),
        migrations.RemoveField(
            model_name='region',
            name='quota_quiet_from',
        ),
        migrations.RemoveField(
            model_name='region',
            name='quota_quiet_until',
        ),
        migrations.RemoveField(
            model_name='region',
            name='quota_topup_limit',
        ),
        migrations.RemoveField(
            model_name='region',
            name='quota_topups_per_day',
        ),
        migrations.RemoveField(
            model_name='region',
            name='resident_premium',
        ),
        migrations.RemoveField(
            model_name='region',
            name='retiree_monthly_credit',
        ),
        migrations.RemoveField(
            model_name='region',
            name='sharing_scope',
        ),
        migrations.RemoveField(
            model_name='region',
            name='sharing_scope_since',
        ),
        migrations.RemoveField(
            model_name='region',
            name='withdrawal_payment_days',
        ),
        migrations.RemoveField(
            model_name='region',
            name='withdrawal_review_days',
        ),
        migrations.RunPython(run_on_postgresql(CREATE), run_on_postgresql(DROP)),
    ]
