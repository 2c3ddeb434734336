"""What was paid through a binding: the figures on the citizen's pages and the downloadable statement.

Read-only queries; each page's figures come from subqueries, so a list costs the same number of queries
however many bindings and payments it shows.
"""

import csv
import datetime
import io

from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from accounts.models import ZERO
from accounts.services import CITIZENS_TIME_ZONE

from .bindings import local
from .models import Binding, PremiumPayment, QuotaTopUp, Settlement, SettlementPayment

MONEY = DecimalField(max_digits=14, decimal_places=2)


def month_start(now):
    """Return the start of the citizens' (Asia/Shanghai) calendar month containing `now`."""
    day = local(now).date().replace(day=1)
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=CITIZENS_TIME_ZONE)


def _total(queryset):
    """Return the sum of `amount` over `queryset` (filtered on OuterRef) as a subquery, 0.00 when empty."""
    totals = queryset.order_by().values("binding_id").annotate(total=Sum("amount")).values("total")[:1]
    return Coalesce(Subquery(totals, output_field=MONEY), Value(ZERO), output_field=MONEY)


def with_figures(queryset, now):
    """Annotate each binding with what it paid this month, what it paid in all, and the quota used."""
    settled = SettlementPayment.objects.filter(
        binding_id=OuterRef("pk"), settlement__status=Settlement.Status.SETTLED
    )
    premiums = PremiumPayment.objects.filter(binding_id=OuterRef("pk"))
    start = month_start(now)
    this_month = _total(settled.filter(settlement__created_at__gte=start)) + _total(
        premiums.filter(created_at__gte=start)
    )
    everything = ExpressionWrapper(_total(settled) + _total(premiums), output_field=MONEY)
    # A premium for a relative in another province is paid from the quota: it is quota used as much as a bill.
    quota_used = _total(settled.filter(account_id=OuterRef("quota_account_id"))) + _total(
        premiums.filter(journal__entries__account_id=OuterRef("quota_account_id"))
    )
    return queryset.annotate(
        paid_this_month=ExpressionWrapper(this_month, output_field=MONEY),
        paid_in_all=everything,
        quota_used=ExpressionWrapper(quota_used, output_field=MONEY),
    )


def open_first(queryset):
    """Order bindings in force first (in the relative's order), then requests, then the rest, newest first."""
    rank = Case(
        When(status=Binding.Status.ACTIVE, then=Value(0)),
        When(status=Binding.Status.PENDING, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    order = Case(
        When(status=Binding.Status.ACTIVE, then=F("priority")), default=Value(0), output_field=IntegerField()
    )
    return queryset.annotate(rank=rank, order=order).order_by("rank", "order", "-requested_at", "-id")


def payments_of(binding):
    """Return the settlement payments made through the binding, newest first."""
    return (
        SettlementPayment.objects.filter(binding=binding)
        .select_related("settlement__institution")
        .order_by("-settlement__created_at", "-id")
    )


def premiums_of(binding):
    return PremiumPayment.objects.filter(binding=binding).order_by("-created_at", "-id")


def statement_csv(binding, *, viewer_is_payer):
    """Return the binding's statement as CSV text with a byte-order mark, so that Excel reads it as UTF-8."""
    rows = [
        (
            payment.settlement.created_at,
            _("医药费结算"),
            payment.settlement.institution.name,
            payment.settlement.get_category_display(),
            payment.amount,
            payment.settlement.get_status_display(),
        )
        for payment in payments_of(binding)
    ]
    rows += [
        (
            premium.created_at,
            _("代缴保费"),
            binding.relative_region.name,
            _("%(year)d年%(label)s") % {"year": premium.year, "label": premium.get_kind_display()},
            premium.amount,
            _("已缴纳"),
        )
        for premium in premiums_of(binding)
    ]
    rows.sort(key=lambda row: row[0], reverse=True)
    other = binding.relative if viewer_is_payer else binding.payer
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("家庭共济支付明细"), binding.number])
    if viewer_is_payer:
        writer.writerow([_("被共济人"), other.masked_name, other.masked_id_number])
        writer.writerow([_("关系"), _("您的%(relation)s") % {"relation": binding.get_relation_display()}])
    else:
        writer.writerow([_("共济人"), other.masked_name, other.masked_id_number])
        writer.writerow([_("关系"), _("您的%(relation)s") % {"relation": binding.get_payer_relation_display()}])
    writer.writerow([])
    writer.writerow([_("日期"), _("业务"), _("机构"), _("类别"), _("金额（元）"), _("状态")])
    for when, business, place, category, amount, state in rows:
        writer.writerow([f"{local(when):%Y-%m-%d %H:%M}", business, place, category, f"{amount:.2f}", state])
    return out.getvalue()


def beneficiaries(account, transaction_ids):
    """For the yearly statement: {transaction id: the patient or relative that money of `account` was for}."""
    names = dict(
        SettlementPayment.objects.filter(account=account, settlement__journal_id__in=transaction_ids)
        .values_list("settlement__journal_id", "settlement__patient__name")
    )
    for model in (PremiumPayment, QuotaTopUp):
        paid = model.objects.filter(journal_id__in=transaction_ids)
        names.update(paid.values_list("journal_id", "binding__relative__name"))
    return names
