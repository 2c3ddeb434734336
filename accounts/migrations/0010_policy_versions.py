"""Add dated policy versions, premium years, the credit and audit records; link credits to people."""

import datetime
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0009_auditors_group'),
    ]

    operations = [
        migrations.CreateModel(
            name='CreditChangeNotification',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('recipients', models.PositiveIntegerField(verbose_name='通知人数')),
                ('sent_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='发送时间')),
            ],
            options={
                'verbose_name': '划入调整通知',
                'verbose_name_plural': '划入调整通知',
            },
        ),
        migrations.CreateModel(
            name='HistoricalPolicyVersion',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('effective_from', models.DateField(help_text='从这一天起按本版本执行。', verbose_name='生效日期')),
                ('document', models.CharField(help_text='决定这些参数的文件，例如“甬医保发〔2026〕12号”。', max_length=200, verbose_name='文件依据')),
                ('employee_credit_rate', models.DecimalField(decimal_places=2, default=Decimal('2.00'), help_text='每月按缴费基数的这一比例划入个人账户。', max_digits=5, validators=[django.core.validators.MinValueValidator(Decimal('0.00')), django.core.validators.MaxValueValidator(Decimal('100'))], verbose_name='在职职工划入比例（%）')),
                ('retiree_monthly_credit', models.DecimalField(decimal_places=2, default=Decimal('100.00'), max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='退休人员每月定额划入（元）')),
                ('sharing_scope', models.CharField(choices=[('close_relatives', '近亲属（2024年起：配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女、外孙子女）'), ('nuclear_family', '配偶、父母、子女（2021年范围）')], default='close_relatives', max_length=20, verbose_name='共济亲属范围')),
                ('sharing_scope_since', models.DateField(default=datetime.date(2025, 1, 1), help_text='共济亲属范围为近亲属时，从这一天起可以为全部近亲属办理；此前只能为配偶、父母、子女办理。', verbose_name='近亲属共济起始日期')),
                ('max_sharing_relatives', models.PositiveSmallIntegerField(default=10, verbose_name='每人最多共济亲属数')),
                ('quota_topup_limit', models.DecimalField(decimal_places=2, default=Decimal('2000.00'), max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='共济额度单次划拨上限（元）')),
                ('quota_topups_per_day', models.PositiveSmallIntegerField(default=3, verbose_name='共济额度每日划拨次数上限')),
                ('quota_quiet_from', models.TimeField(default=datetime.time(22, 0), verbose_name='暂停划拨开始时间')),
                ('quota_quiet_until', models.TimeField(default=datetime.time(6, 0), verbose_name='暂停划拨结束时间')),
                ('withdrawal_review_days', models.PositiveSmallIntegerField(default=5, verbose_name='提取初审时限（工作日）')),
                ('withdrawal_payment_days', models.PositiveSmallIntegerField(default=10, verbose_name='提取到账时限（工作日）')),
                ('transfer_out_days', models.PositiveSmallIntegerField(default=10, verbose_name='转出办理时限（工作日）')),
                ('transfer_in_days', models.PositiveSmallIntegerField(default=5, verbose_name='转入办理时限（工作日）')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='录入时间')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical 政策参数版本',
                'verbose_name_plural': 'historical 政策参数版本',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalPremiumRate',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(2000)], verbose_name='缴费年度')),
                ('resident_premium', models.DecimalField(decimal_places=2, default=Decimal('400.00'), max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='居民医保个人缴费（元/年）')),
                ('ltc_premium', models.DecimalField(decimal_places=2, default=Decimal('0.00'), help_text='未开展长期护理保险的地区填0。', max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='长期护理保险个人缴费（元/年）')),
                ('document', models.CharField(max_length=200, verbose_name='文件依据')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='录入时间')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical 年度个人缴费标准',
                'verbose_name_plural': 'historical 年度个人缴费标准',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='LedgerAudit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('full', models.BooleanField(verbose_name='全量核对')),
                ('since_entry_id', models.PositiveBigIntegerField(default=0, verbose_name='起始明细编号（不含）')),
                ('last_transaction_id', models.PositiveBigIntegerField(verbose_name='核对至交易编号')),
                ('last_entry_id', models.PositiveBigIntegerField(verbose_name='核对至明细编号')),
                ('transactions', models.PositiveBigIntegerField(verbose_name='核对交易数')),
                ('entries', models.PositiveBigIntegerField(verbose_name='核对明细数')),
                ('accounts', models.PositiveBigIntegerField(verbose_name='核对账户数')),
                ('started_at', models.DateTimeField(verbose_name='开始时间')),
                ('finished_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='完成时间')),
            ],
            options={
                'verbose_name': '账务核对记录',
                'verbose_name_plural': '账务核对记录',
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='PolicyVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('effective_from', models.DateField(help_text='从这一天起按本版本执行。', verbose_name='生效日期')),
                ('document', models.CharField(help_text='决定这些参数的文件，例如“甬医保发〔2026〕12号”。', max_length=200, verbose_name='文件依据')),
                ('employee_credit_rate', models.DecimalField(decimal_places=2, default=Decimal('2.00'), help_text='每月按缴费基数的这一比例划入个人账户。', max_digits=5, validators=[django.core.validators.MinValueValidator(Decimal('0.00')), django.core.validators.MaxValueValidator(Decimal('100'))], verbose_name='在职职工划入比例（%）')),
                ('retiree_monthly_credit', models.DecimalField(decimal_places=2, default=Decimal('100.00'), max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='退休人员每月定额划入（元）')),
                ('sharing_scope', models.CharField(choices=[('close_relatives', '近亲属（2024年起：配偶、父母、子女、兄弟姐妹、祖父母、外祖父母、孙子女、外孙子女）'), ('nuclear_family', '配偶、父母、子女（2021年范围）')], default='close_relatives', max_length=20, verbose_name='共济亲属范围')),
                ('sharing_scope_since', models.DateField(default=datetime.date(2025, 1, 1), help_text='共济亲属范围为近亲属时，从这一天起可以为全部近亲属办理；此前只能为配偶、父母、子女办理。', verbose_name='近亲属共济起始日期')),
                ('max_sharing_relatives', models.PositiveSmallIntegerField(default=10, verbose_name='每人最多共济亲属数')),
                ('quota_topup_limit', models.DecimalField(decimal_places=2, default=Decimal('2000.00'), max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='共济额度单次划拨上限（元）')),
                ('quota_topups_per_day', models.PositiveSmallIntegerField(default=3, verbose_name='共济额度每日划拨次数上限')),
                ('quota_quiet_from', models.TimeField(default=datetime.time(22, 0), verbose_name='暂停划拨开始时间')),
                ('quota_quiet_until', models.TimeField(default=datetime.time(6, 0), verbose_name='暂停划拨结束时间')),
                ('withdrawal_review_days', models.PositiveSmallIntegerField(default=5, verbose_name='提取初审时限（工作日）')),
                ('withdrawal_payment_days', models.PositiveSmallIntegerField(default=10, verbose_name='提取到账时限（工作日）')),
                ('transfer_out_days', models.PositiveSmallIntegerField(default=10, verbose_name='转出办理时限（工作日）')),
                ('transfer_in_days', models.PositiveSmallIntegerField(default=5, verbose_name='转入办理时限（工作日）')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='录入时间')),
            ],
            options={
                'verbose_name': '政策参数版本',
                'verbose_name_plural': '政策参数版本',
                'ordering': ['region', '-effective_from'],
            },
        ),
        migrations.CreateModel(
            name='PremiumRate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('year', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(2000)], verbose_name='缴费年度')),
                ('resident_premium', models.DecimalField(decimal_places=2, default=Decimal('400.00'), max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='居民医保个人缴费（元/年）')),
                ('ltc_premium', models.DecimalField(decimal_places=2, default=Decimal('0.00'), help_text='未开展长期护理保险的地区填0。', max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))], verbose_name='长期护理保险个人缴费（元/年）')),
                ('document', models.CharField(max_length=200, verbose_name='文件依据')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='录入时间')),
            ],
            options={
                'verbose_name': '年度个人缴费标准',
                'verbose_name_plural': '年度个人缴费标准',
                'ordering': ['region', '-year'],
            },
        ),
        migrations.AddField(
            model_name='enrolment',
            name='personal_account',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='enrolments_served', to='accounts.account', verbose_name='使用的个人账户'),
        ),
        migrations.AddField(
            model_name='historicalenrolment',
            name='personal_account',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.account', verbose_name='使用的个人账户'),
        ),
        migrations.AddField(
            model_name='monthlycredit',
            name='person',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='monthly_credits', to='accounts.person', verbose_name='参保人'),
        ),
        migrations.AddField(
            model_name='monthlycredit',
            name='entry',
            field=models.OneToOneField(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='monthly_credit', to='accounts.ledgerentry', verbose_name='账务明细'),
        ),
        migrations.AddField(
            model_name='monthlycredit',
            name='repeated',
            field=models.BooleanField(default=False, help_text='“每人每月只划入一次”规则实施前发生的同月第二笔划入。', verbose_name='同月重复划入'),
        ),
        migrations.AlterField(
            model_name='monthlycredit',
            name='contribution_base',
            field=models.DecimalField(blank=True, decimal_places=2, help_text='退休人员按定额划入，不填。', max_digits=14, null=True, verbose_name='缴费基数（元）'),
        ),
        migrations.AddField(
            model_name='historicalpolicyversion',
            name='created_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='录入人'),
        ),
        migrations.AddField(
            model_name='historicalpolicyversion',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalpolicyversion',
            name='region',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.region', verbose_name='统筹区'),
        ),
        migrations.AddField(
            model_name='historicalpremiumrate',
            name='created_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='录入人'),
        ),
        migrations.AddField(
            model_name='historicalpremiumrate',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalpremiumrate',
            name='region',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.region', verbose_name='统筹区'),
        ),
        migrations.AddField(
            model_name='policyversion',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='录入人'),
        ),
        migrations.AddField(
            model_name='policyversion',
            name='region',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='policy_versions', to='accounts.region', verbose_name='统筹区'),
        ),
        migrations.AddField(
            model_name='creditchangenotification',
            name='version',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='credit_change_notification', to='accounts.policyversion', verbose_name='政策参数版本'),
        ),
        migrations.AddField(
            model_name='monthlycredit',
            name='version',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='monthly_credits', to='accounts.policyversion', verbose_name='政策参数版本'),
        ),
        migrations.AddIndex(
            model_name='monthlycredit',
            index=models.Index(fields=['account', '-month'], name='credit_account_newest'),
        ),
        migrations.AddField(
            model_name='premiumrate',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='录入人'),
        ),
        migrations.AddField(
            model_name='premiumrate',
            name='region',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='premium_rates', to='accounts.region', verbose_name='统筹区'),
        ),
        migrations.AddConstraint(
            model_name='policyversion',
            constraint=models.UniqueConstraint(fields=('region', 'effective_from'), name='one_policy_version_per_region_and_day', violation_error_message='该统筹区在这一天已有一个版本。'),
        ),
        migrations.AddConstraint(
            model_name='policyversion',
            constraint=models.CheckConstraint(condition=models.Q(('employee_credit_rate__gte', 0), ('employee_credit_rate__lte', 100)), name='policy_credit_rate_is_a_percentage'),
        ),
        migrations.AddConstraint(
            model_name='premiumrate',
            constraint=models.UniqueConstraint(fields=('region', 'year'), name='one_premium_rate_per_region_and_year', violation_error_message='该统筹区这一缴费年度已有缴费标准。'),
        ),
    ]
