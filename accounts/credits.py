"""The monthly credit (每月划入): the rule, the run over a province, the notices of a change, the history.

`credit_monthly` credits a month to every person due it, once per person whatever the regions, accounts
and runs (DOMAIN.md, "Monthly credit"), with the version in force on the month's first day. It works in
chunks of accounts, each one database transaction of a few set-based statements (`accounts.credit_sql`)
and one journal transaction (an entry per account, one per region's source account; each MonthlyCredit
points at its account's entry): stopped at any moment, it has credited whole chunks and nothing else, and
the next run credits the rest.
"""

import datetime
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import credit_sql, policy
from .ledger import CENT
from .models import (
    ZERO,
    Account,
    CreditChangeNotification,
    Enrolment,
    MonthlyCredit,
    Notice,
    PolicyVersion,
    Region,
    citizens_today,
    percent,
)
from .services import ServiceError, leave_notices, system_account

logger = logging.getLogger(__name__)

# Accounts per chunk: each chunk holds its accounts' row locks until it commits (well under a second), so a
# settlement on one of them waits at most that long; bigger chunks save little once statements are set-based.
CHUNK_SIZE = 5000
# A chunk that collides with another run crediting the same people at the same moment is rolled back and
# tried again; the retry leaves out whoever the other run credited.
ATTEMPTS = 3
ACCOUNT_PAGE = "/account/"


@dataclass
class CreditSummary:
    month: datetime.date
    credited: int = 0
    already_credited: int = 0
    skipped_unavailable: int = 0
    skipped_no_policy: int = 0
    total: Decimal = field(default_factory=lambda: ZERO)

    def __str__(self):
        text = _(
            "%(year)d年%(month)d月：划入 %(credited)d 个账户，合计 %(total)s 元；"
            "此前已划入 %(already)d 个；冻结、关闭或转出而未划入 %(skipped)d 个。"
        ) % {
            "year": self.month.year,
            "month": self.month.month,
            "credited": self.credited,
            "total": f"{self.total:.2f}",
            "already": self.already_credited,
            "skipped": self.skipped_unavailable,
        }
        if self.skipped_no_policy:
            text += _("另有 %(count)d 人所在统筹区该月没有生效的政策参数，未划入。") % {
                "count": self.skipped_no_policy
            }
        return text


def current_month():
    """Return the first day of the current month on the citizens' calendar."""
    return citizens_today().replace(day=1)


def last_day_of(month):
    """Return the last day of the month that `month` (a date) falls in."""
    return (month.replace(day=1) + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)


def month_words(month):
    return _("%(year)d年%(month)d月") % {"year": month.year, "month": month.month}


def first_credited_month(version):
    """Return the first month a version computes: each month is credited under its first day's version."""
    day = version.effective_from
    return day if day.day == 1 else last_day_of(day) + datetime.timedelta(days=1)


# The rule -----------------------------------------------------------------------------------------


def monthly_amount(*, employment, base, version):
    """Return a month's credit: the retirees' fixed amount, or base times rate, half-up to the cent."""
    if employment == Enrolment.Employment.RETIRED:
        return version.retiree_monthly_credit
    return (base * version.employee_credit_rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def rule_words(*, employment, base, version):
    """Return how a month's credit is computed, in the statement's words."""
    if employment == Enrolment.Employment.RETIRED:
        return _("退休人员定额")
    return _("缴费基数 ¥%(base)s × %(rate)s%%") % {
        "base": f"{base:,.2f}", "rate": percent(version.employee_credit_rate)
    }


# The run ------------------------------------------------------------------------------------------


def credit_monthly(
    *, month=None, region=None, persons=None, booked_at=None, chunk_size=CHUNK_SIZE, workers=1, progress=None
):
    """Credit `month` (default: this month) to every person due it, once, in chunks; return the summary.

    `region` limits the run to people insured in that region for the month, `persons` to those people.
    `booked_at` dates the journal transactions (default: the moment each chunk is written). On
    PostgreSQL, `workers` connections credit chunks side by side. `progress(done, total, summary)` is
    called after each chunk with the accounts gone through so far.
    """
    month = (month or current_month()).replace(day=1)
    today = citizens_today()
    if month > today.replace(day=1):
        raise ServiceError(
            _("%(month)s还没有到，不能提前划入。") % {"month": month_words(month)}, code="future_month"
        )
    run = _Run(
        month=month,
        decisive_day=today if month == today.replace(day=1) else last_day_of(month),
        region=region,
        person_ids=None if persons is None else [getattr(p, "pk", p) for p in persons],
        booked_at=booked_at,
    )
    run.prepare()
    run.open_sources()
    chunks = _Chunks(chunk_size, run.region_ids, credit_sql.count_accounts(run.region_ids), progress)
    if workers > 1 and connection.vendor == "postgresql":
        # Each worker on its own connection (its own work tables); chunks never share an account, and
        # every chunk takes its locks in the one global order, so the workers queue at most on a source
        # account, for its last two statements.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for finished in [pool.submit(_worker, run, chunks) for _n in range(workers)]:
                finished.result()
    else:
        run.work(chunks)
    summary = run.summary
    summary.skipped_unavailable = credit_sql.count_unavailable(
        month=month, decisive_day=run.decisive_day, person_ids=run.person_ids
    )
    logger.info("每月划入 %s", summary)
    return summary


def _worker(run, chunks):
    try:
        run.prepare()
        run.work(chunks)
    finally:
        connection.close()


class _Chunks:
    """The run's chunks of accounts, handed out one at a time to whichever worker asks."""

    def __init__(self, size, region_ids, total, progress):
        self.size, self.region_ids, self.total, self.progress = size, region_ids, total, progress
        self.low, self.exhausted, self.done = 0, False, 0
        self.lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            if self.exhausted:
                raise StopIteration
            high = credit_sql.chunk_bounds(after=self.low, size=self.size, region_ids=self.region_ids)
            low, self.low, self.exhausted = self.low, high, high is None
            return low, high

    def finished(self, summary, last):
        with self.lock:
            self.done = self.total if last else min(self.done + self.size, self.total)
            if self.progress is not None:
                self.progress(self.done, self.total, summary)


class _Run:
    """One run of credit_monthly: its month, scope and the source accounts found so far."""

    def __init__(self, *, month, decisive_day, region, person_ids, booked_at):
        self.month, self.decisive_day, self.person_ids = month, decisive_day, person_ids
        self.booked_at = booked_at
        self.versions = policy.versions_on(month, regions=None if region is None else [region])
        self.region_ids = None if region is None else [region.pk]
        self.summary = CreditSummary(month=month)
        self.sources = {}
        self.lock = threading.Lock()
        self._count_before(region)

    def _count_before(self, region):
        credited = MonthlyCredit.objects.filter(month=self.month, repeated=False)
        if region is not None:
            credited = credited.filter(version__region=region)
        if self.person_ids is not None:
            credited = credited.filter(person__in=self.person_ids)
        self.summary.already_credited = credited.count()
        # People insured where no version was in force yet on the month's first day: nothing to credit by.
        unversioned = Region.objects.exclude(pk__in=list(self.versions))
        if region is not None:
            unversioned = unversioned.filter(pk=region.pk)
        if unversioned.exists():
            uncovered = Enrolment.objects.filter(
                region__in=unversioned,
                insurance_type=Enrolment.InsuranceType.EMPLOYEE,
                started_on__lte=self.decisive_day,
            ).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=self.month))
            if self.person_ids is not None:
                uncovered = uncovered.filter(person__in=self.person_ids)
            self.summary.skipped_no_policy = uncovered.values("person").distinct().count()

    def prepare(self):
        """Load the run's policies into this thread's connection."""
        credit_sql.prepare(
            (region_id, version.pk, version.employee_credit_rate, version.retiree_monthly_credit)
            for region_id, version in self.versions.items()
        )

    def open_sources(self):
        """Find (or open) the source account of each region with employees in the run, before any chunk.

        Opened inside a chunk, a source would stay invisible to the other workers until that chunk commits.
        """
        regions = (
            Enrolment.objects.filter(insurance_type=Enrolment.InsuranceType.EMPLOYEE, region__in=list(self.versions))
            .values_list("region", flat=True)
            .distinct()
        )
        for region_id in regions:
            self._source(region_id)

    def work(self, chunks):
        """Credit chunks until there are none left, on this thread's connection."""
        for low, high in chunks:
            self.credit_chunk(low, high)
            chunks.finished(self.summary, last=high is None)

    def credit_chunk(self, low, high):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    credited, cents = self._credit(low, high)
            except IntegrityError:
                # Rolled back, source accounts opened by this chunk included.
                self.sources.clear()
                if attempt == ATTEMPTS:
                    raise
                logger.warning("每月划入：第 %d 次重试账户 #%s 之后的一批（另一次运行同时划入）", attempt, low)
            except BaseException:
                self.sources.clear()
                raise
            else:
                with self.lock:
                    self.summary.credited += credited
                    self.summary.total += Decimal(cents) / 100
                return

    def _credit(self, low, high):
        credit_sql.check_constraints_at_once()
        credited = credit_sql.fill_chunk(
            month=self.month,
            decisive_day=self.decisive_day,
            low=low,
            high=high,
            person_ids=self.person_ids,
        )
        if not credited:
            return 0, 0
        totals = credit_sql.chunk_totals()
        # Dated when written (unless the caller dates the run): the audit's checkpoint looks again at what
        # was posted shortly before it, by that date.
        journal_id = credit_sql.insert_journal(
            description=_("%(month)s 每月划入") % {"month": month_words(self.month)},
            created_at=self.booked_at or timezone.now(),
        )
        credit_sql.add_to_personal_balances()
        credit_sql.insert_personal_entries(journal_id)
        credit_sql.insert_credits(self.month, journal_id)
        # Source accounts are system rows: locked last, in id order (accounts.ledger's lock order), and
        # held only for their own UPDATE and entry until COMMIT.
        for source_id, cents in sorted((self._source(region_id), cents) for region_id, _count, cents in totals):
            credit_sql.take_from_source(journal_id=journal_id, source_id=source_id, amount=Decimal(cents) / 100)
        return credited, sum(cents for _region, _count, cents in totals)

    def _source(self, region_id):
        if region_id not in self.sources:
            region = self.versions[region_id].region
            self.sources[region_id] = system_account(region, Account.Kind.CREDIT_SOURCE).pk
        return self.sources[region_id]


# Notices of a change ------------------------------------------------------------------------------


def notify_credit_changes(*, today=None, at=None):
    """Tell each citizen whose monthly credit a version changes, once, when the version takes effect.

    Goes through every version in force by `today` whose notices were not sent yet, oldest first; returns
    the notification records made. Run daily (docs/deploy.md); a second run the same day sends nothing.
    """
    today = today or citizens_today()
    pending = (
        PolicyVersion.objects.filter(effective_from__lte=today, credit_change_notification__isnull=True)
        .select_related("region")
        .order_by("effective_from", "pk")
    )
    return [_notify(version, at or timezone.now()) for version in pending]


BATCH = 5000


@transaction.atomic
def _notify(version, at):
    # The record first: a second run at the same moment waits on its unique row, then fails, and its
    # notices roll back with it.
    record = CreditChangeNotification.objects.create(version=version, recipients=0, sent_at=at)
    previous = policy.preceding(version)
    if previous is None or not policy.credit_changes(version, previous):
        return record
    enrolments = Enrolment.objects.filter(
        region_id=version.region_id,
        status=Enrolment.Status.ACTIVE,
        insurance_type=Enrolment.InsuranceType.EMPLOYEE,
    ).values_list("person_id", "employment", "contribution_base")
    notices = []
    for person_id, employment, base in enrolments.iterator(chunk_size=BATCH):
        notice = change_notice(version, previous, employment=employment, base=base, at=at)
        if notice is not None:
            notice.person_id = person_id
            notices.append(notice)
        if len(notices) == BATCH:
            record.recipients += len(leave_notices(notices))
            notices = []
    record.recipients += len(leave_notices(notices))
    CreditChangeNotification.objects.filter(pk=record.pk).update(recipients=record.recipients)
    return record


def change_notice(version, previous, *, employment, base, at):
    """Return the unsaved notice telling one citizen how `version` changes their credit, or None."""
    old = monthly_amount(employment=employment, base=base, version=previous)
    new = monthly_amount(employment=employment, base=base, version=version)
    if old == new:
        return None
    body = _(
        "根据%(document)s，%(region)s自%(day)s起调整个人账户每月划入标准。您的每月划入金额自%(month)s起"
        "由 ¥%(old)s 调整为 ¥%(new)s（%(rule)s）。每月划入明细和调整原因可以在“我的账户”中查看。"
    ) % {
        "document": version.document,
        "region": version.region.name,
        "day": policy.day_words(version.effective_from),
        "month": month_words(first_credited_month(version)),
        "old": f"{old:,.2f}",
        "new": f"{new:,.2f}",
        "rule": rule_words(employment=employment, base=base, version=version),
    }
    return Notice(title=_("每月划入金额调整"), body=body, link=ACCOUNT_PAGE, created_at=at)


# The account page -------------------------------------------------------------------------------

HISTORY_MONTHS = 12


@dataclass(frozen=True)
class CreditRow:
    credit: MonthlyCredit
    # Why the amount differs from the credit before it; empty when it does not.
    change: str = ""


@dataclass(frozen=True)
class CreditPanel:
    """What /account/ shows of one account's credits: the rule now and a year (or the last 12 months)."""

    rule: str
    rows: list
    years: list
    year: int | None


def credit_panel(account, *, year=None):
    """Return the CreditPanel of `account`; `year` picks a calendar year, None the latest 12 credits."""
    credits = MonthlyCredit.objects.filter(account=account, repeated=False).select_related("version")
    years = sorted({day.year for day in credits.dates("month", "year")}, reverse=True)
    if year is not None:
        # A year's credits and the one before them, which the first of them is compared with.
        before_next_year = credits.filter(month__lt=datetime.date(year + 1, 1, 1))
        window = list(before_next_year.order_by("-month")[: HISTORY_MONTHS + 1])
        shown = [credit for credit in window if credit.month.year == year]
    else:
        window = list(credits.order_by("-month")[: HISTORY_MONTHS + 1])
        shown = window[:HISTORY_MONTHS]
    older = window[1:] + [None]
    rows = [CreditRow(credit, change_reason(credit, before)) for credit, before in zip(shown, older)]
    return CreditPanel(rule=current_rule(account), rows=rows, years=years, year=year)


def current_rule(account):
    """Return the words of the rule that credits `account` now, or why it is not credited."""
    enrolment = account.enrolment
    if account.status != Account.Status.ACTIVE or enrolment.status != Enrolment.Status.ACTIVE:
        return _("账户当前为“%(status)s”，参保登记为“%(enrolment)s”，暂不划入。") % {
            "status": account.get_status_display(), "enrolment": enrolment.get_status_display()
        }
    try:
        version = policy.in_force(enrolment.region, citizens_today())
    except ServiceError as error:
        return error.message
    terms = {"employment": enrolment.employment, "base": enrolment.contribution_base, "version": version}
    return _("每月 ¥%(amount)s = %(rule)s（%(document)s，%(day)s起执行）") % {
        "amount": f"{monthly_amount(**terms):,.2f}",
        "rule": rule_words(**terms),
        "document": version.document,
        "day": policy.day_words(version.effective_from),
    }


def change_reason(credit, older):
    """Return why `credit` differs in amount from the credit before it (`older`), or "" when it does not."""
    if older is None or credit.amount == older.amount:
        return ""
    if credit.is_fixed_amount != older.is_fixed_amount:
        return _("改按退休人员定额划入") if credit.is_fixed_amount else _("改按缴费基数比例划入")
    version = credit.version
    why = _("%(document)s，%(day)s起执行") % {
        "document": version.document, "day": policy.day_words(version.effective_from)
    }
    if credit.is_fixed_amount:
        return _("政策调整：退休人员定额由 ¥%(old)s 调整为 ¥%(new)s（%(why)s）") % {
            "old": f"{older.amount:,.2f}", "new": f"{credit.amount:,.2f}", "why": why
        }
    reasons = []
    if credit.rate != older.rate:
        reasons.append(
            _("政策调整：划入比例由 %(old)s%% 调整为 %(new)s%%（%(why)s）")
            % {"old": percent(older.rate), "new": percent(credit.rate), "why": why}
        )
    if credit.contribution_base != older.contribution_base:
        reasons.append(
            _("缴费基数由 ¥%(old)s 调整为 ¥%(new)s")
            % {"old": f"{older.contribution_base:,.2f}", "new": f"{credit.contribution_base:,.2f}"}
        )
    return "；".join(reasons)
