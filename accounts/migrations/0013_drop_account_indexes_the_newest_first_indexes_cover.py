"""Drop the account-only indexes of ledger entries and monthly credits: the (account, newest first) ones cover them."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0012_drop_region_parameters_and_freeze_versions_in_force'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgerentry',
            name='account',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='accounts.account', verbose_name='账户'),
        ),
        migrations.AlterField(
            model_name='monthlycredit',
            name='account',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='monthly_credits', to='accounts.account', verbose_name='个人账户'),
        ),
    ]
