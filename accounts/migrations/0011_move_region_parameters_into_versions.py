"""Move each region's parameters into dated policy versions and premium years, keeping their history.

What a region's parameters were, and since when, is read from the region's change history
(django-simple-history): each recorded change becomes a version from the day it was made, so the timeline
shows every value that ever applied. The earliest known values apply from FIRST_DAY.

Monthly credits learn whom they credited, under which version and by which ledger entry; a person credited twice in one month
(possible before the rule became one credit per person) keeps both credits, the later ones marked
`repeated` for clerks to review. Employee enrolments learn which personal account they paid into.
"""

import datetime
import zoneinfo

from django.db import migrations
from django.db.models import Count, OuterRef, Subquery

# 国发〔1998〕44号 (14 December 1998) set up employee medical insurance and its personal accounts: no credit
# the portal holds can be for an earlier month, so the first version applies from that day.
FIRST_DAY = datetime.date(1998, 12, 14)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
PARAMETERS = [
    "employee_credit_rate", "retiree_monthly_credit", "sharing_scope", "sharing_scope_since",
    "max_sharing_relatives", "quota_topup_limit", "quota_topups_per_day", "quota_quiet_from",
    "quota_quiet_until", "withdrawal_review_days", "withdrawal_payment_days",
]
FIRST_DOCUMENT = "统筹区原有参数（启用政策版本前）"


def region_states(apps, region):
    """Return [(day, row, document)]: the region's recorded states, oldest first, the current row last."""
    HistoricalRegion = apps.get_model("accounts", "HistoricalRegion")
    states = []
    for record in HistoricalRegion.objects.filter(id=region.pk).order_by("history_date", "history_id"):
        who = record.history_user.username if record.history_user_id else "—"
        moment = record.history_date.astimezone(SHANGHAI)
        document = f"原统筹区参数修改记录（{moment:%Y-%m-%d %H:%M}，{who}）"
        states.append((max(moment.date(), FIRST_DAY), record, document))
    if not states:
        return [(FIRST_DAY, region, FIRST_DOCUMENT)]
    states[0] = (FIRST_DAY, states[0][1], FIRST_DOCUMENT)
    if values(region) != values(states[-1][1]):
        # Changed without a history record (a bulk update): those values apply from today.
        states.append((datetime.datetime.now(SHANGHAI).date(), region, "迁移时的统筹区参数"))
    return states


def values(row):
    """The versioned parameters of a region row or history record."""
    return {name: getattr(row, name) for name in PARAMETERS}


def versions_of(apps, region):
    """Return [(day, document, values)]: one version from each day on which what applied changed."""
    versions, previous = [], None
    for day, row, document in region_states(apps, region):
        current = values(row)
        if versions and versions[-1][0] == day:
            versions[-1] = (day, versions[-1][1], current)  # the last change of a day is the day's
        elif current != previous:
            versions.append((day, document, current))
        previous = current
    return versions


def move_parameters(apps, schema_editor):
    Region = apps.get_model("accounts", "Region")
    PolicyVersion = apps.get_model("accounts", "PolicyVersion")
    PremiumRate = apps.get_model("accounts", "PremiumRate")
    Notification = apps.get_model("accounts", "CreditChangeNotification")
    today = datetime.datetime.now(SHANGHAI).date()
    for region in Region.objects.all():
        for day, document, parameters in versions_of(apps, region):
            version = PolicyVersion.objects.create(
                region=region, effective_from=day, document=document, **parameters
            )
            if day <= today:
                # Changes made before the portal sent notices of them: there is nobody left to tell.
                Notification.objects.create(version=version, recipients=0)
        premiums = {}
        for _day, row, document in region_states(apps, region):
            premiums[row.premium_year] = (row.resident_premium, row.ltc_premium, document)
        for year, (resident, ltc, document) in premiums.items():
            PremiumRate.objects.create(
                region=region, year=year, resident_premium=resident, ltc_premium=ltc, document=document
            )


def link_credits_and_enrolments(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    Enrolment = apps.get_model("accounts", "Enrolment")
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    MonthlyCredit = apps.get_model("accounts", "MonthlyCredit")
    PolicyVersion = apps.get_model("accounts", "PolicyVersion")

    MonthlyCredit.objects.update(
        person=Subquery(Account.objects.filter(pk=OuterRef("account")).values("enrolment__person")[:1]),
        entry=Subquery(
            LedgerEntry.objects.filter(transaction=OuterRef("transaction"), account=OuterRef("account"))
            .values("pk")[:1]
        ),
    )
    for region_id, month in MonthlyCredit.objects.values_list("account__region", "month").distinct():
        version = (
            PolicyVersion.objects.filter(region_id=region_id, effective_from__lte=month)
            .order_by("-effective_from")
            .first()
        ) or PolicyVersion.objects.filter(region_id=region_id).order_by("effective_from").first()
        MonthlyCredit.objects.filter(account__region=region_id, month=month).update(version=version)
    twice = MonthlyCredit.objects.values("person", "month").annotate(count=Count("id")).filter(count__gt=1)
    for pair in twice:
        later = MonthlyCredit.objects.filter(person=pair["person"], month=pair["month"]).order_by("transaction")
        MonthlyCredit.objects.filter(pk__in=[credit.pk for credit in later[1:]]).update(repeated=True)

    Enrolment.objects.update(
        personal_account=Subquery(Account.objects.filter(enrolment=OuterRef("pk")).values("pk")[:1])
    )
    # An enrolment whose account a later job in the region (or, where accounts are used province-wide, the
    # province) carried on: the account is the one the next such enrolment holds.
    for enrolment in Enrolment.objects.filter(insurance_type="employee", personal_account__isnull=True):
        later = Enrolment.objects.filter(
            person_id=enrolment.person_id,
            started_on__gte=enrolment.started_on,
            personal_account__isnull=False,
            region__province_id=enrolment.region.province_id,
        ).exclude(pk=enrolment.pk)
        successor = (
            later.filter(region_id=enrolment.region_id).order_by("started_on", "id").first()
            or later.order_by("started_on", "id").first()
        )
        if successor is not None:
            enrolment.personal_account_id = successor.personal_account_id
            enrolment.save(update_fields=["personal_account"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_policy_versions")]

    operations = [
        migrations.RunPython(move_parameters, migrations.RunPython.noop),
        migrations.RunPython(link_credits_and_enrolments, migrations.RunPython.noop),
    ]
