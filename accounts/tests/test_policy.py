"""Policy parameters over time: the version in force on a day, versions final once in force, the admin."""

import datetime
import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts import policy
from accounts.models import InForce, PolicyVersion, PremiumRate, Region, citizens_today
from accounts.services import ServiceError
from conftest import make_employee, make_staff, region, set_policy

pytestmark = pytest.mark.django_db

TODAY = citizens_today()
TOMORROW = TODAY + datetime.timedelta(days=1)


def url(model, view="changelist", *args):
    return reverse(f"admin:accounts_{model}_{view}", args=args)


# The version in force on a day --------------------------------------------------------------------


def test_the_version_in_force_the_day_before_on_and_after_its_effective_date():
    before = set_policy(since=datetime.date(2026, 1, 1), document="旧")
    july = set_policy(since=datetime.date(2026, 7, 1), document="新")
    ningbo = region()

    assert policy.in_force(ningbo, datetime.date(2026, 6, 30)) == before
    assert policy.in_force(ningbo, datetime.date(2026, 7, 1)) == july
    assert policy.in_force(ningbo, datetime.date(2026, 7, 2)) == july


def test_every_region_has_its_parameters_as_a_first_version_after_the_migration():
    first_day = datetime.date(1998, 12, 14)
    assert not Region.objects.exclude(policy_versions__effective_from=first_day).exists()
    ningbo = policy.in_force(region("330200"), first_day)
    assert (ningbo.employee_credit_rate, ningbo.retiree_monthly_credit) == (Decimal("2.00"), Decimal("110.00"))
    assert (ningbo.sharing_scope, ningbo.sharing_scope_since) == ("close_relatives", datetime.date(2025, 1, 1))
    assert (ningbo.withdrawal_review_days, ningbo.transfer_out_days, ningbo.transfer_in_days) == (5, 10, 5)
    assert policy.in_force(region("441900"), first_day).retiree_monthly_credit == Decimal("100.00")
    assert policy.premium_rate(region("330200"), 2026).ltc_premium == Decimal("90.00")
    # What applied before the portal sent notices of changes was never announced, and never will be.
    assert not PolicyVersion.objects.filter(credit_change_notification__isnull=True).exists()


def test_a_day_before_the_first_version_has_no_rule():
    with pytest.raises(ServiceError) as refused:
        policy.in_force(region(), datetime.date(1990, 1, 1))
    assert refused.value.code == "no_policy"


def test_the_migration_turns_each_recorded_change_into_a_version_from_its_day():
    migration = importlib.import_module("accounts.migrations.0011_move_region_parameters_into_versions")
    shanghai = migration.SHANGHAI
    base = {
        "employee_credit_rate": Decimal("2.00"), "retiree_monthly_credit": Decimal("110.00"),
        "sharing_scope": "close_relatives", "sharing_scope_since": datetime.date(2025, 1, 1),
        "max_sharing_relatives": 10, "quota_topup_limit": Decimal("2000.00"), "quota_topups_per_day": 3,
        "quota_quiet_from": datetime.time(22), "quota_quiet_until": datetime.time(6),
        "withdrawal_review_days": 5, "withdrawal_payment_days": 10,
    }

    def record(moment, **changes):
        return SimpleNamespace(
            history_date=moment, history_user_id=1, history_user=SimpleNamespace(username="admin"),
            **{**base, **changes},
        )

    history = [
        record(datetime.datetime(2024, 3, 1, 9, tzinfo=shanghai)),
        record(datetime.datetime(2025, 6, 15, 10, tzinfo=shanghai), retiree_monthly_credit=Decimal("115.00")),
        record(datetime.datetime(2025, 6, 15, 16, tzinfo=shanghai), retiree_monthly_credit=Decimal("116.00")),
        record(datetime.datetime(2026, 2, 1, 9, tzinfo=shanghai), retiree_monthly_credit=Decimal("116.00")),
    ]
    current = SimpleNamespace(pk=1, **{**base, "retiree_monthly_credit": Decimal("116.00")})
    manager = SimpleNamespace(filter=lambda **_kw: SimpleNamespace(order_by=lambda *_a: history))
    apps = SimpleNamespace(get_model=lambda *_a: SimpleNamespace(objects=manager))

    versions = migration.versions_of(apps, current)

    assert [(day, values["retiree_monthly_credit"]) for day, _document, values in versions] == [
        (migration.FIRST_DAY, Decimal("110.00")),
        (datetime.date(2025, 6, 15), Decimal("116.00")),  # the day's last change is the day's
    ]
    assert versions[1][1] == "原统筹区参数修改记录（2025-06-15 10:00，admin）"


# A version in force is final ----------------------------------------------------------------------


def test_the_model_refuses_to_change_or_delete_a_version_in_force():
    version = set_policy(document="已生效")

    version.document = "改过"
    with pytest.raises(InForce):
        version.save()
    with pytest.raises(InForce):
        version.delete()
    with pytest.raises(InForce):
        PolicyVersion.objects.filter(pk=version.pk).update(retiree_monthly_credit=Decimal("1.00"))
    with pytest.raises(InForce):
        PolicyVersion.objects.filter(pk=version.pk).delete()
    version.refresh_from_db()
    assert version.document == "已生效"


def test_a_version_not_yet_in_force_can_be_corrected_and_withdrawn(admin_user):
    later = policy.add_version(
        region=region(), effective_from=TOMORROW, document="甬医保发〔2026〕20号", actor=admin_user,
        **{name: getattr(set_policy(), name) for name in policy.PARAMETERS},
    )

    corrected = policy.change_version(version=later, actor=admin_user, retiree_monthly_credit=Decimal("125.00"))
    assert corrected.retiree_monthly_credit == Decimal("125.00")
    with pytest.raises(ServiceError, match="生效日期须晚于今天"):
        policy.change_version(version=later, actor=admin_user, effective_from=TODAY)

    policy.withdraw_version(version=later, actor=admin_user)
    assert not PolicyVersion.objects.filter(pk=later.pk).exists()
    assert PolicyVersion.history.filter(id=later.pk, history_type="-").exists()


def test_a_new_version_takes_effect_on_a_later_day_only(admin_user):
    parameters = {name: getattr(set_policy(), name) for name in policy.PARAMETERS}
    for day in (TODAY, TODAY - datetime.timedelta(days=30)):
        with pytest.raises(ServiceError) as refused:
            policy.add_version(region=region(), effective_from=day, document="补发", actor=admin_user, **parameters)
        assert refused.value.code == "effective_in_the_past"
    policy.add_version(region=region(), effective_from=TOMORROW, document="甲", actor=admin_user, **parameters)
    with pytest.raises(ServiceError, match="已有一个版本"):
        policy.add_version(region=region(), effective_from=TOMORROW, document="乙", actor=admin_user, **parameters)


@pytest.mark.postgresql
def test_postgresql_refuses_to_change_or_delete_a_version_in_force_however_asked():
    version = set_policy(document="已生效")
    later = set_policy(since=TOMORROW + datetime.timedelta(days=1), document="待生效")
    table = PolicyVersion._meta.db_table

    for statement in (f"UPDATE {table} SET document = 'x' WHERE id = %s", f"DELETE FROM {table} WHERE id = %s"):
        with pytest.raises(IntegrityError, match="in force"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [version.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        # Not by moving a later version into the past either.
        cursor.execute(f"UPDATE {table} SET effective_from = %s WHERE id = %s", [TODAY, later.pk])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET document = '更正' WHERE id = %s", [later.pk])
    assert PolicyVersion.objects.get(pk=later.pk).document == "更正"


@pytest.mark.postgresql
def test_postgresql_refuses_to_change_the_premiums_of_a_year_begun():
    rate = PremiumRate.objects.get(region__code="330200", year=2026)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {PremiumRate._meta.db_table} SET resident_premium = 1 WHERE id = %s", [rate.pk])


def test_premiums_of_a_year_begun_are_final_and_next_years_can_be_published(admin_user):
    rate = PremiumRate.objects.get(region__code="330200", year=TODAY.year)
    with pytest.raises(InForce):
        PremiumRate.objects.filter(pk=rate.pk).update(resident_premium=Decimal("1.00"))
    with pytest.raises(ServiceError, match="年度已经开始"):
        policy.add_premium_rate(
            region=region(), year=TODAY.year, resident_premium=Decimal("1"), ltc_premium=Decimal("0"),
            document="x", actor=admin_user,
        )
    next_year = policy.add_premium_rate(
        region=region(), year=TODAY.year + 1, resident_premium=Decimal("420.00"), ltc_premium=Decimal("95.00"),
        document="甬医保发〔2026〕30号", actor=admin_user,
    )
    assert policy.change_premium_rate(rate=next_year, actor=admin_user, resident_premium=Decimal("430.00"))
    assert policy.premium_rate(region(), TODAY.year + 1).resident_premium == Decimal("430.00")


# The admin ----------------------------------------------------------------------------------------


@pytest.fixture
def clerk(client):
    user = make_staff("policy_clerk", "330200")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts",
            codename__in=[
                "view_region", "change_region", "view_policyversion", "add_policyversion",
                "change_policyversion", "delete_policyversion", "view_premiumrate", "add_premiumrate",
            ],
        )
    )
    client.force_login(user)
    return user


def version_form(region_row, **overrides):
    latest = PolicyVersion.objects.filter(region=region_row).order_by("-effective_from").first()
    data = {
        name: ("" if value is None else value.strftime("%H:%M") if isinstance(value, datetime.time) else value)
        for name, value in ((name, getattr(latest, name)) for name in policy.PARAMETERS)
    }
    data.update(region=region_row.pk, effective_from=TOMORROW.isoformat(), document="甬医保发〔2026〕30号", _save="1")
    data.update(overrides)
    return data


def test_the_region_page_shows_its_versions_as_a_timeline(clerk, client):
    set_policy(since=datetime.date(2025, 1, 1), document="甬医保发〔2024〕28号")
    current = set_policy(since=datetime.date(2026, 1, 1))
    PolicyVersion.objects.create(
        region=region(), effective_from=TOMORROW, document="甬医保发〔2026〕30号",
        **{name: getattr(current, name) for name in policy.PARAMETERS},
    )

    page = client.get(url("region", "change", region().pk)).content.decode()

    assert page.index("甬医保发〔2026〕30号") < page.index("测试文件") < page.index("甬医保发〔2024〕28号")
    assert "待生效" in page and "现行" in page and "已被新版本取代" in page
    assert f"{url('policyversion', 'add')}?region={region().pk}" in page


def test_a_clerk_adds_a_version_that_changes_credits_only_after_confirming(clerk, client):
    make_employee(retired=True)
    make_employee(retired=True)
    make_employee()

    first = client.post(url("policyversion", "add"), version_form(region(), retiree_monthly_credit="125.00"))

    warning = first.context["adminform"].form.errors["confirm_credit_change"][0]
    assert "退休人员每月定额由 ¥110.00 调整为 ¥125.00" in warning
    assert "涉及本统筹区参保中的职工约 2 人" in warning
    assert not PolicyVersion.objects.filter(effective_from=TOMORROW).exists()

    saved = client.post(
        url("policyversion", "add"), version_form(region(), retiree_monthly_credit="125.00", confirm_credit_change="on")
    )

    assert saved.status_code == 302
    version = PolicyVersion.objects.get(effective_from=TOMORROW)
    assert (version.retiree_monthly_credit, version.created_by) == (Decimal("125.00"), clerk)
    assert any("此版本将改变每月划入金额" in str(m) for m in get_messages(saved.wsgi_request))


def test_a_version_that_leaves_credits_alone_needs_no_confirmation(clerk, client):
    response = client.post(url("policyversion", "add"), version_form(region(), max_sharing_relatives="8"))
    assert response.status_code == 302
    assert PolicyVersion.objects.get(effective_from=TOMORROW).max_sharing_relatives == 8


def test_the_admin_refuses_a_date_not_after_today(clerk, client):
    response = client.post(url("policyversion", "add"), version_form(region(), effective_from=TODAY.isoformat()))
    assert "生效日期须晚于今天" in response.context["adminform"].form.errors["effective_from"][0]


def test_a_version_in_force_is_read_only_in_the_admin_and_cannot_be_withdrawn(clerk, client):
    version = set_policy(document="已生效")

    page = client.get(url("policyversion", "change", version.pk))
    posted = client.post(url("policyversion", "change", version.pk), version_form(region(), document="改"))
    deleted = client.post(url("policyversion", "delete", version.pk), {"post": "yes"})

    assert page.status_code == 200 and 'name="document"' not in page.text
    assert posted.status_code == 403 and deleted.status_code == 403
    assert PolicyVersion.objects.get(pk=version.pk).document == "已生效"


def test_a_version_not_yet_in_force_is_corrected_and_withdrawn_in_the_admin(clerk, client):
    client.post(url("policyversion", "add"), version_form(region(), max_sharing_relatives="8"))
    later = PolicyVersion.objects.get(effective_from=TOMORROW)

    client.post(url("policyversion", "change", later.pk), version_form(region(), max_sharing_relatives="9"))
    assert PolicyVersion.objects.get(pk=later.pk).max_sharing_relatives == 9
    client.post(url("policyversion", "delete", later.pk), {"post": "yes"})
    assert not PolicyVersion.objects.filter(pk=later.pk).exists()


def test_a_clerk_cannot_see_or_add_versions_of_another_region(clerk, client):
    dongguan = region("441900")
    other = PolicyVersion.objects.filter(region=dongguan).first()

    assert client.get(url("policyversion", "change", other.pk)).status_code == 302
    response = client.post(url("policyversion", "add"), version_form(dongguan))
    assert "region" in response.context["adminform"].form.errors
    assert not PolicyVersion.objects.filter(region=dongguan, effective_from=TOMORROW).exists()
    assert {version.region for version in client.get(url("policyversion")).context["cl"].result_list} == {region()}


def test_a_clerk_publishes_next_years_premiums(clerk, client):
    data = {
        "region": region().pk, "year": TODAY.year + 1, "resident_premium": "420.00", "ltc_premium": "95.00",
        "document": "甬医保发〔2026〕31号", "_save": "1",
    }
    assert client.post(url("premiumrate", "add"), {**data, "year": TODAY.year}).status_code == 200
    assert client.post(url("premiumrate", "add"), data).status_code == 302
    assert policy.premium_rate(region(), TODAY.year + 1).resident_premium == Decimal("420.00")
