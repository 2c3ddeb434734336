"""Keep the journal's idempotency key unique with one index: unique=True also built a LIKE index nothing uses."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0013_drop_account_indexes_the_newest_first_indexes_cover'),
    ]

    operations = [
        migrations.AlterField(
            model_name='journaltransaction',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=120, null=True, verbose_name='幂等键'),
        ),
        migrations.AddConstraint(
            model_name='journaltransaction',
            constraint=models.UniqueConstraint(fields=('idempotency_key',), name='journal_idempotency_key_unique'),
        ),
    ]
