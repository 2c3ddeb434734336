"""Load the demo people, logins and balances of DESIGN.md; running it again changes nothing.

Feature apps add their own demo records (the sharing binding 张伟 → 张小雨, the institution
`demo-pharmacy`) through a `seed_demo()` method on their AppConfig, which this command calls after the
people exist; so `accounts` imports none of them.

The balances come with a year behind them: for 宁波 a version of its parameters from 2025-01-01 and one
from 2026-07-01 that raises the retirees' amount, the 12 months before the current one credited through
the credit service, and bills the feature apps pay meanwhile. An app lists its bills through a
`demo_spending(months)` method on its AppConfig: each item has `at` (an aware datetime within those months),
`id_number` (the demo person who pays), `amount` (what leaves their account) and `book()` (which pays it
through the app's own service, dated `at`). The opening balance is what makes each balance come out at
DESIGN.md's figure once the year is booked; the current month stays uncredited.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import credits, ledger, policy
from accounts.models import (
    CITIZENS_TIME_ZONE,
    Account,
    Enrolment,
    JournalTransaction,
    Notice,
    Person,
    PolicyVersion,
    Region,
    StaffProfile,
    StaffRole,
    User,
)
from accounts.second_factor import give_known_device
from accounts.services import notices_changed, personal_account_of, record_enrolment, system_account

PASSWORD = "Demo@2026"
CLERKS_GROUP = "经办人员"
# RFC 6238's test key ("12345678901234567890"), base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ: public, demo only.
DEMO_TOTP_KEY_HEX = "3132333435363738393031323334353637383930"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id_number: str
    phone: str
    region_code: str
    insurance_type: str
    employment: str = ""
    contribution_base: str | None = None
    contribution_months: int = 0
    started_on: datetime.date = datetime.date(2010, 1, 1)
    balance: str = "0.00"
    login: bool = False


EMPLOYEE, RESIDENT = Enrolment.InsuranceType.EMPLOYEE, Enrolment.InsuranceType.RESIDENT
IN_SERVICE, RETIRED = Enrolment.Employment.IN_SERVICE, Enrolment.Employment.RETIRED

PEOPLE = [
    DemoPerson("张伟", "330203198501011238", "13905741238", "330200", EMPLOYEE, IN_SERVICE, "8000.00", 216,
               datetime.date(2008, 7, 1), "2000.00", login=True),
    DemoPerson("张小雨", "330203201506011020", "13905741020", "330200", RESIDENT,
               started_on=datetime.date(2016, 1, 1)),
    DemoPerson("李秀英", "330203195803150045", "13905740045", "330200", EMPLOYEE, RETIRED, None, 360,
               datetime.date(1978, 9, 1), "800.00", login=True),
    DemoPerson("王芳", "330203198702140028", "13905740028", "330200", EMPLOYEE, IN_SERVICE, "6000.00", 180,
               datetime.date(2011, 3, 1), "1200.00", login=True),
    DemoPerson("陈明", "441900199008083318", "13907693318", "441900", EMPLOYEE, IN_SERVICE, "7000.00", 120,
               datetime.date(2016, 8, 1), "1500.00", login=True),
]

NINGBO = "330200"
# 宁波's demo versions: (effective from, document, what differs from the version before). Documents are
# marked as demo: they are not real 宁波 documents.
NINGBO_VERSIONS = [
    (datetime.date(2025, 1, 1), "演示·甬医保发〔2024〕28号", {}),
    (datetime.date(2026, 7, 1), "演示·甬医保发〔2026〕15号", {"retiree_monthly_credit": Decimal("120.00")}),
]
HISTORY_MONTHS = 12

# username -> (desk, regions served)
STAFF = {
    "reviewer_nb": ("reviewer", ["330200"]),
    "approver_nb": ("approver", ["330200"]),
    "reviewer_dg": ("reviewer", ["441900"]),
}
# username -> (姓名, 工号): how colleagues and the records name each demo clerk.
STAFF_NAMES = {
    "reviewer_nb": ("李敏", "NB1024"),
    "approver_nb": ("陈海燕", "NB1031"),
    "reviewer_dg": ("梁志强", "DG2017"),
}

# What every service-hall clerk does in the admin: look everything up, record people and enrolments,
# freeze accounts, keep the regions' policy tables. Ledger rows are append-only, and logins and the
# province-wide policy (it affects every region of the province) are the superuser's.
CLERK_PERMISSIONS = [
    "accounts.view_person", "accounts.add_person", "accounts.change_person",
    "accounts.view_enrolment", "accounts.add_enrolment", "accounts.change_enrolment",
    "accounts.view_account", "accounts.change_account", "accounts.freeze_account",
    "accounts.view_region", "accounts.change_region",
    "accounts.view_policyversion", "accounts.add_policyversion", "accounts.change_policyversion",
    "accounts.delete_policyversion",
    "accounts.view_premiumrate", "accounts.add_premiumrate", "accounts.change_premiumrate",
    "accounts.delete_premiumrate",
    "accounts.view_province",
    "accounts.view_accountstatuschange", "accounts.view_journaltransaction", "accounts.view_ledgerentry",
    "accounts.view_monthlycredit", "accounts.view_notice",
]
# Granted by earlier versions of this command; taken back so that a re-run brings the group up to date.
WITHDRAWN_CLERK_PERMISSIONS = ["accounts.change_province"]


def desk_permissions(desk):
    """Return "app_label.codename" names every installed app grants to `desk` ("reviewer", "approver").

    A feature app lists them in its AppConfig's `desk_permissions`, so this command imports none of them.
    """
    return [
        f"{config.label}.{codename}"
        for config in apps.get_app_configs()
        for codename in getattr(config, "desk_permissions", {}).get(desk, [])
    ]


def permissions(names):
    """Return the Permission rows for "app_label.codename" names, refusing when one is missing."""
    wanted = {tuple(name.split(".")) for name in names}
    found = [
        p for p in Permission.objects.filter(codename__in=[codename for _app, codename in wanted])
        .select_related("content_type")
        if (p.content_type.app_label, p.codename) in wanted
    ]
    if len(found) != len(wanted):
        raise CommandError(_("缺少部分权限，请先运行 manage.py migrate。"))
    return found


class Command(BaseCommand):
    help = _("写入演示数据（参保人员、登录账号、余额、经办人员）。可重复运行；DEBUG 关闭时拒绝运行。")

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help=_("DEBUG 关闭时也写入（切勿用于正式系统）。")
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                _(
                    "DEBUG 已关闭：拒绝写入使用公开密码的演示数据。"
                    "只有在用后即弃的测试系统上才可加 --force。"
                )
            )
        with transaction.atomic():
            created = [self.seed_person(demo) for demo in PEOPLE]
            clerks = self.seed_clerks_group()
            created += [
                self.seed_staff(username, desk, codes, clerks) for username, (desk, codes) in STAFF.items()
            ]
            created.append(self.seed_superuser())
            self.seed_staff_identity()
            for config in apps.get_app_configs():
                if hasattr(config, "seed_demo"):
                    created.append(config.seed_demo())
            created.append(seed_ningbo_versions())
            seed_year(today=credits.citizens_today())
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "演示数据已就绪：%(persons)d 名参保人员、%(staff)d 名经办人员和超级管理员 admin"
                    "（本次新建 %(created)d 个）。所有演示账号的密码都是 %(password)s。"
                )
                % {"persons": len(PEOPLE), "staff": len(STAFF), "created": sum(created), "password": PASSWORD}
            )
        )

    def seed_person(self, demo):
        person, created = Person.objects.get_or_create(
            id_number=demo.id_number,
            defaults={"name": demo.name, "phone": demo.phone, "card_number": f"C{demo.id_number}"},
        )
        if not person.enrolments.exists():
            record_enrolment(
                person=person,
                region=Region.objects.get(code=demo.region_code),
                insurance_type=demo.insurance_type,
                employment=demo.employment,
                contribution_base=Decimal(demo.contribution_base) if demo.contribution_base else None,
                contribution_months=demo.contribution_months,
                started_on=demo.started_on,
            )
        if demo.login and not User.objects.filter(person=person).exists():
            user = User(username=person.id_number, first_name=person.name, person=person)
            user.set_password(PASSWORD)
            user.save()
        return created

    def seed_clerks_group(self):
        group, _created = Group.objects.get_or_create(name=CLERKS_GROUP)
        group.permissions.add(*permissions(CLERK_PERMISSIONS))
        group.permissions.remove(*permissions(WITHDRAWN_CLERK_PERMISSIONS))
        return group

    def seed_staff(self, username, desk, region_codes, group):
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
        if created:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(group)
        user.user_permissions.add(*permissions(desk_permissions(desk)))
        full_name, staff_number = STAFF_NAMES[username]
        profile, _created = StaffProfile.objects.get_or_create(
            user=user, defaults={"full_name": full_name, "staff_number": staff_number}
        )
        if not profile.full_name:
            StaffProfile.objects.filter(pk=profile.pk).update(full_name=full_name, staff_number=staff_number)
        profile.regions.add(*Region.objects.filter(code__in=region_codes))
        return created

    def seed_staff_identity(self):
        """Give every demo staff login the public RFC 6238 test key (DESIGN.md) and its access-record role."""
        for username in [*STAFF, "admin"]:
            user = User.objects.get(username=username)
            give_known_device(user=user, key_hex=DEMO_TOTP_KEY_HEX)
            if username in STAFF:
                role = StaffRole.REVIEWER if STAFF[username][0] == "approver" else StaffRole.HANDLER
                StaffProfile.objects.filter(user=user).update(role=role)

    def seed_superuser(self):
        if User.objects.filter(username="admin").exists():
            return False
        User.objects.create_superuser("admin", password=PASSWORD)
        return True


# The demo year ------------------------------------------------------------------------------------


def seed_ningbo_versions():
    """Give 宁波 its demo versions (once); return how many were new."""
    region = Region.objects.get(code=NINGBO)
    made = 0
    for effective_from, document, changes in NINGBO_VERSIONS:
        if PolicyVersion.objects.filter(region=region, effective_from=effective_from).exists():
            continue
        before = policy.in_force(region, effective_from - datetime.timedelta(days=1))
        parameters = {name: getattr(before, name) for name in policy.PARAMETERS}
        # A version in force is entered as it was decided then: past days are data, like a migration.
        PolicyVersion.objects.create(
            region=region, effective_from=effective_from, document=document, **{**parameters, **changes}
        )
        made += 1
    return made


def opening_key(demo):
    return f"demo-opening:{demo.id_number}"


def seed_year(*, today):
    """Book the year before this month for the demo people who have no opening balance yet (once, ever)."""
    booked = set(JournalTransaction.objects.filter(idempotency_key__startswith="demo-opening:").values_list(
        "idempotency_key", flat=True
    ))
    due = [demo for demo in PEOPLE if Decimal(demo.balance) and opening_key(demo) not in booked]
    if not due:
        return
    this_month = today.replace(day=1)
    months = [add_months(this_month, -back) for back in range(HISTORY_MONTHS, 0, -1)]
    people = {demo.id_number: Person.objects.get(id_number=demo.id_number) for demo in due}
    spending = [
        item
        for config in apps.get_app_configs()
        if hasattr(config, "demo_spending")
        for item in config.demo_spending(months)
        if item.id_number in people
    ]
    for demo in due:
        person = people[demo.id_number]
        spent = sum((item.amount for item in spending if item.id_number == demo.id_number), Decimal("0.00"))
        opening = Decimal(demo.balance) - expected_credits(person, months) + spent
        book_opening_balance(demo, person, opening, at=moment(months[0], 8))
    for month in months:
        # Notices of a version taking effect come the morning it does, before that month's credit.
        told = credits.notify_credit_changes(today=month, at=moment(month, 8))
        if told:
            Notice.objects.filter(person__in=people.values(), created_at=moment(month, 8)).update(
                read_at=moment(month, 19)
            )
            notices_changed(*(person.pk for person in people.values()))
        credits.credit_monthly(month=month, persons=list(people.values()), booked_at=moment(month, 9))
        this_months = [item for item in spending if item.at.date().replace(day=1) == month]
        for item in sorted(this_months, key=lambda item: item.at):
            item.book()
    for demo in due:
        balance = personal_account_of(people[demo.id_number]).balance
        if balance != Decimal(demo.balance):
            raise CommandError(
                _("演示数据有误：%(name)s一年后的余额为 %(balance)s，应为 %(expected)s。")
                % {"name": demo.name, "balance": balance, "expected": demo.balance}
            )


def expected_credits(person, months):
    """What the credit service will credit the person over `months`, by the rule and the versions."""
    enrolment = person.enrolments.get(status=Enrolment.Status.ACTIVE)
    return sum(
        credits.monthly_amount(
            employment=enrolment.employment,
            base=enrolment.contribution_base,
            version=policy.in_force(enrolment.region, month),
        )
        for month in months
    )


def book_opening_balance(demo, person, amount, *, at):
    account = personal_account_of(person)
    source = system_account(account.region, Account.Kind.CREDIT_SOURCE)
    ledger.post(
        kind=JournalTransaction.Kind.OPENING,
        lines=[ledger.Line(source, -amount), ledger.Line(account, amount)],
        description="期初余额（演示数据）",
        # Booked once, ever: by the next run the demo may have spent, withdrawn or transferred the money.
        idempotency_key=opening_key(demo),
        booked_at=at,
    )


def add_months(month, count):
    index = month.year * 12 + month.month - 1 + count
    return datetime.date(index // 12, index % 12 + 1, 1)


def moment(month, hour, day=1):
    """An aware datetime on the citizens' clock: `hour` o'clock on `day` of `month`."""
    return datetime.datetime(month.year, month.month, day, hour, tzinfo=CITIZENS_TIME_ZONE)
