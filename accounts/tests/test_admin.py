import datetime
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services
from accounts.credits import credit_monthly
from accounts.identity import mask_id_number
from accounts.models import (
    Account,
    AccountStatusChange,
    Enrolment,
    JournalTransaction,
    LedgerEntry,
    Notice,
    Person,
    Province,
    Region,
)
from conftest import (
    make_citizen_user,
    make_employee,
    make_id_number,
    make_person,
    make_resident,
    make_staff,
    region,
)

pytestmark = pytest.mark.django_db

ACCOUNTS_MODELS = [
    "province", "region", "policyversion", "premiumrate", "person", "enrolment", "account", "accountstatuschange", "journaltransaction",
    "ledgerentry", "monthlycredit", "notice", "staffprofile", "user",
]


def grant(user, *codenames):
    """Give `user` the named permissions of the accounts app."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
    )
    return user


def grant_desk(user):
    """Give `user` what a service-hall clerk has: view everything, record enrolments, freeze accounts."""
    views = [f"view_{model}" for model in ACCOUNTS_MODELS]
    desk = ["add_person", "change_person", "add_enrolment", "change_enrolment", "freeze_account"]
    return grant(user, *views, *desk)


def url(model, view="changelist", *args):
    return reverse(f"admin:accounts_{model}_{view}", args=args)


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def listed(response):
    return list(response.context["cl"].result_list)


def id_number_ending_in_x():
    return next(number for number in iter(make_id_number, None) if number.endswith("X"))


@pytest.fixture
def clerk(client, reviewer):
    """The 宁波 reviewer with a clerk's permissions, logged in."""
    client.force_login(grant_desk(reviewer))
    return reviewer


@pytest.fixture
def ningbo():
    return make_employee(balance="2000.00", name="张伟", card_number="NB0001")


@pytest.fixture
def dongguan():
    return make_employee(balance="1500.00", region_code="441900", name="陈明", card_number="DG0001")


def account_of(person):
    return Account.objects.get(enrolment__person=person)


# Persons --------------------------------------------------------------------------------------------


def test_clerk_lists_only_persons_of_own_region(client, clerk, ningbo, dongguan):
    response = client.get(url("person"))

    assert response.status_code == 200
    assert listed(response) == [ningbo]
    assert "陈明" not in response.text


def test_clerk_cannot_open_person_of_other_region(client, clerk, dongguan):
    response = client.get(url("person", "change", dongguan.pk))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")
    assert client.get(url("person", "history", dongguan.pk)).status_code == 404


def test_superuser_lists_persons_of_every_region(admin_client, ningbo, dongguan):
    response = admin_client.get(url("person"))
    assert set(listed(response)) == {ningbo, dongguan}


def test_person_list_masks_id_numbers_and_the_detail_shows_them(client, clerk, ningbo):
    listing = client.get(url("person"))
    detail = client.get(url("person", "change", ningbo.pk))

    assert mask_id_number(ningbo.id_number) in listing.text
    assert ningbo.id_number not in listing.text
    assert "宁波市" in listing.text
    assert ningbo.id_number in detail.text


def test_search_by_full_id_number_finds_the_person(client, clerk, ningbo):
    other = make_employee(id_number=id_number_ending_in_x(), name="李秀英")

    assert listed(client.get(url("person"), {"q": ningbo.id_number})) == [ningbo]
    assert listed(client.get(url("person"), {"q": other.id_number.lower()})) == [other]


def test_search_by_part_of_an_id_number_finds_nobody(client, clerk, ningbo):
    for fragment in (ningbo.id_number[:10], ningbo.id_number[-6:], ningbo.id_number[1:]):
        assert listed(client.get(url("person"), {"q": fragment})) == []


def test_search_by_name_or_card_number(client, clerk, ningbo):
    make_employee(name="王芳")

    assert listed(client.get(url("person"), {"q": "张"})) == [ningbo]
    assert listed(client.get(url("person"), {"q": "NB0001"})) == [ningbo]


def test_adding_a_person_leads_to_recording_the_enrolment(client, clerk):
    id_number = make_id_number()
    data = {"name": "赵敏", "id_number": id_number, "phone": "13900000000", "card_number": "NB0002"}

    response = client.post(url("person", "add"), data)

    person = Person.objects.get(id_number=id_number)
    assert response.status_code == 302
    assert response.url == f"{url('enrolment', 'add')}?person={person.pk}"
    form = client.get(response.url).context["form"]
    assert form.initial["id_number"] == id_number


def test_added_id_number_is_stored_with_capital_x(admin_client):
    id_number = id_number_ending_in_x()
    data = {"name": "赵敏", "id_number": id_number.lower(), "phone": "13900000000", "card_number": "NB0003"}

    admin_client.post(url("person", "add"), data)

    assert Person.objects.filter(id_number=id_number).exists()


def test_enrolment_form_does_not_reveal_an_enrolled_persons_id_number(client, clerk, dongguan):
    form = client.get(url("enrolment", "add"), {"person": dongguan.pk}).context["form"]
    assert "id_number" not in form.initial


def test_enrolment_form_does_not_prefill_the_id_of_a_person_this_clerk_did_not_add(client, clerk):
    # Nobody has enrolled this person yet, so no region guards them: trying pks must not reveal ID numbers.
    stranger = make_person(name="赵敏")

    response = client.get(url("enrolment", "add"), {"person": stranger.pk})

    assert "id_number" not in response.context["form"].initial
    assert stranger.id_number not in response.text


def test_enrolment_form_prefill_is_kept_to_the_clerk_who_added_the_person(client, clerk, approver):
    id_number = make_id_number()
    data = {"name": "赵敏", "id_number": id_number, "phone": "13900000000", "card_number": "NB0002"}
    next_url = client.post(url("person", "add"), data).url
    client.force_login(grant_desk(approver))

    response = client.get(next_url)

    assert "id_number" not in response.context["form"].initial
    assert id_number not in response.text


def test_history_cannot_be_restored_over_the_current_row(admin_client, ningbo):
    Person.objects.filter(pk=ningbo.pk).update(name="张伟伟")
    version = ningbo.history.earliest()
    restore_url = url("person", "simple_history", ningbo.pk, version.history_id)

    response = admin_client.post(restore_url, {"name": "张伟"})

    assert response.status_code == 403
    assert Person.objects.get(pk=ningbo.pk).name == "张伟伟"


# Enrolments -----------------------------------------------------------------------------------------


def enrolment_data(person, **overrides):
    data = {
        "id_number": person.id_number,
        "region": region("330200").pk,
        "insurance_type": "employee",
        "employment": "in_service",
        "contribution_base": "9000.00",
        "contribution_months": "24",
        "started_on": "2026-01-05",
    }
    data.update(overrides)
    return data


def test_recording_an_employee_enrolment_opens_a_personal_account(client, clerk):
    person = make_person(name="赵敏")

    response = client.post(url("enrolment", "add"), enrolment_data(person))

    enrolment = Enrolment.objects.get(person=person)
    assert response.status_code == 302
    assert response.url == url("enrolment", "change", enrolment.pk)
    assert enrolment.status == Enrolment.Status.ACTIVE
    assert enrolment.contribution_base == Decimal("9000.00")
    assert enrolment.started_on == datetime.date(2026, 1, 5)
    assert enrolment.account.kind == Account.Kind.PERSONAL
    assert enrolment.account.region == region("330200")
    assert enrolment.account.balance == Decimal("0.00")
    assert enrolment.history.get().history_user == clerk
    assert ("success", f"已记录参保登记：{enrolment}，已开立个人账户。") in messages_of(response)


def test_a_new_job_in_the_same_region_keeps_the_personal_account(client, clerk):
    person = make_employee(balance="1200.00", name="王芳", base="6000.00")
    account = account_of(person)
    services.stop_enrolment(enrolment=person.enrolments.get(), ended_on=datetime.date(2026, 4, 30))

    response = client.post(url("enrolment", "add"), enrolment_data(person, started_on="2026-05-01"))

    new = Enrolment.objects.get(person=person, status=Enrolment.Status.ACTIVE)
    assert response.url == url("enrolment", "change", new.pk)
    assert Account.objects.get(enrolment__person=person) == account
    assert Account.objects.get(pk=account.pk).enrolment == new
    assert Account.objects.get(pk=account.pk).balance == Decimal("1200.00")
    assert ("success", f"已记录参保登记：{new}，原个人账户（余额 ¥1200.00）继续使用。") in messages_of(response)
    old = person.enrolments.get(status=Enrolment.Status.STOPPED)
    assert "已随本人在同一统筹区的新参保登记继续使用" in client.get(url("enrolment", "change", old.pk)).text


def test_recording_a_resident_enrolment_opens_no_account(client, clerk):
    person = make_person(name="张小雨", birth="20150601")
    data = enrolment_data(person, insurance_type="resident", employment="", contribution_base="")

    client.post(url("enrolment", "add"), data)

    enrolment = Enrolment.objects.get(person=person)
    assert enrolment.insurance_type == Enrolment.InsuranceType.RESIDENT
    assert not Account.objects.filter(enrolment=enrolment).exists()


def test_recording_a_second_active_enrolment_is_refused(client, clerk, ningbo):
    response = client.post(url("enrolment", "add"), enrolment_data(ningbo))

    assert response.status_code == 200
    assert "此人已有一条参保中的登记，请先办理停保。" in response.context["form"].non_field_errors()
    assert ningbo.enrolments.count() == 1


def test_clerk_cannot_record_an_enrolment_in_another_region(client, clerk):
    person = make_person()

    response = client.post(url("enrolment", "add"), enrolment_data(person, region=region("441900").pk))

    assert response.status_code == 200
    assert "region" in response.context["form"].errors
    assert not Enrolment.objects.filter(person=person).exists()


def test_recording_an_enrolment_of_an_unknown_id_number_is_refused(client, clerk):
    response = client.post(url("enrolment", "add"), enrolment_data(Person(id_number=make_id_number())))

    assert response.context["form"].errors["id_number"] == ["登记库中没有这个身份证号码的人员，请先新增参保人员。"]
    assert not Enrolment.objects.exists()


def test_in_service_employee_needs_a_contribution_base(client, clerk):
    person = make_person()

    response = client.post(url("enrolment", "add"), enrolment_data(person, contribution_base=""))

    assert response.status_code == 200
    assert "在职职工须填写月缴费基数。" in str(response.context["form"].errors)
    assert not Enrolment.objects.filter(person=person).exists()


def test_clerk_without_add_permission_cannot_record_enrolments(client, reviewer):
    client.force_login(grant(reviewer, "view_enrolment"))
    person = make_person()

    assert client.post(url("enrolment", "add"), enrolment_data(person)).status_code == 403
    assert not Enrolment.objects.exists()


def stop_data(*enrolments, ended_on="2026-03-31"):
    return {"action": "stop_enrolments", ACTION_CHECKBOX_NAME: [e.pk for e in enrolments], "apply": "1",
            "ended_on": ended_on}


def test_stopping_an_enrolment_through_the_list_action(client, clerk, ningbo):
    enrolment = ningbo.enrolments.get()

    response = client.post(url("enrolment"), stop_data(enrolment))

    enrolment.refresh_from_db()
    assert response.status_code == 302
    assert enrolment.status == Enrolment.Status.STOPPED
    assert enrolment.ended_on == datetime.date(2026, 3, 31)
    assert enrolment.account.balance == Decimal("2000.00")
    assert enrolment.history.latest().history_user == clerk
    assert ("success", "已记录 1 条参保登记停保。") in messages_of(response)


def test_stopping_asks_for_the_date_first(client, clerk, ningbo):
    enrolment = ningbo.enrolments.get()

    data = {"action": "stop_enrolments", ACTION_CHECKBOX_NAME: [enrolment.pk]}

    response = client.post(url("enrolment"), data)

    assert response.status_code == 200
    assert "停保日期" in response.text
    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.ACTIVE


def test_stopping_an_enrolment_from_its_change_page(client, clerk, ningbo):
    enrolment = ningbo.enrolments.get()
    data = {"CHANGE_FORM-action": "stop_enrolments", ACTION_CHECKBOX_NAME: enrolment.pk, "apply": "1",
            "ended_on": "2026-04-30"}

    response = client.post(url("enrolment", "change", enrolment.pk), data)

    assert response.status_code == 302
    assert response.url == url("enrolment", "change", enrolment.pk)
    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.STOPPED


def test_stopping_a_stopped_enrolment_reports_the_refusal(client, clerk, ningbo):
    enrolment = ningbo.enrolments.get()
    services.stop_enrolment(enrolment=enrolment)

    response = client.post(url("enrolment"), stop_data(enrolment))

    assert ("error", f"{enrolment}：该参保登记已不是参保中状态。") in messages_of(response)


def test_clerk_cannot_stop_an_enrolment_of_another_region(client, clerk, dongguan):
    enrolment = dongguan.enrolments.get()

    client.post(url("enrolment"), stop_data(enrolment))

    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.ACTIVE


def enrolment_change_data(enrolment, **overrides):
    data = {
        "employment": enrolment.employment,
        "contribution_base": enrolment.contribution_base or "",
        "contribution_months": enrolment.contribution_months,
        "_save": "1",
    }
    data.update(overrides)
    return data


def test_enrolment_status_cannot_be_edited(client, clerk, ningbo):
    enrolment = ningbo.enrolments.get()

    client.post(url("enrolment", "change", enrolment.pk), enrolment_change_data(enrolment, status="stopped"))

    assert Enrolment.objects.get(pk=enrolment.pk).status == Enrolment.Status.ACTIVE


def test_editing_an_enrolment_keeps_its_constraints(client, clerk, ningbo):
    enrolment = ningbo.enrolments.get()

    data = enrolment_change_data(enrolment, contribution_base="")

    response = client.post(url("enrolment", "change", enrolment.pk), data)

    assert response.status_code == 200
    assert "在职职工须填写月缴费基数。" in str(response.context["adminform"].form.errors)
    assert Enrolment.objects.get(pk=enrolment.pk).contribution_base == Decimal("8000.00")


def test_editing_the_contribution_base(client, clerk, ningbo):
    enrolment = ningbo.enrolments.get()

    data = enrolment_change_data(enrolment, contribution_base="9500.00")

    client.post(url("enrolment", "change", enrolment.pk), data)

    enrolment.refresh_from_db()
    assert enrolment.contribution_base == Decimal("9500.00")
    assert enrolment.history.latest().history_user == clerk


# Accounts -------------------------------------------------------------------------------------------


def test_clerk_lists_only_accounts_of_own_region(client, clerk, ningbo, dongguan):
    response = client.get(url("account"))

    accounts = listed(response)
    assert account_of(ningbo) in accounts
    assert account_of(dongguan) not in accounts
    assert {account.region.code for account in accounts} == {"330200"}


def test_clerk_cannot_open_account_of_other_region(client, clerk, dongguan):
    response = client.get(url("account", "change", account_of(dongguan).pk))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_account_page_shows_the_holder_masked_and_links_to_its_entries(client, clerk, ningbo, dongguan):
    account = account_of(ningbo)

    page = client.get(url("account", "change", account.pk))
    entries = client.get(url("ledgerentry"), {"account": account.pk})

    assert mask_id_number(ningbo.id_number) in page.text
    assert f"{url('ledgerentry')}?account={account.pk}" in page.text
    assert [entry.account for entry in listed(entries)] == [account]


def freeze_data(account, reason="疑似冒名就医，暂停使用", action="freeze_accounts"):
    return {"action": action, ACTION_CHECKBOX_NAME: [account.pk], "apply": "1", "reason": reason}


def test_freezing_asks_for_a_reason_first(client, clerk, ningbo):
    account = account_of(ningbo)

    response = client.post(url("account"), {"action": "freeze_accounts", ACTION_CHECKBOX_NAME: [account.pk]})

    assert response.status_code == 200
    assert "原因" in response.text
    assert not response.context["form"].is_bound
    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE


def test_freezing_with_a_reason_freezes_and_records_who_and_why(client, clerk, ningbo):
    account = account_of(ningbo)

    response = client.post(url("account"), freeze_data(account))

    assert response.status_code == 302
    assert Account.objects.get(pk=account.pk).status == Account.Status.FROZEN
    change = AccountStatusChange.objects.get(account=account)
    assert (change.from_status, change.to_status) == (Account.Status.ACTIVE, Account.Status.FROZEN)
    assert change.actor == clerk
    assert change.reason == "疑似冒名就医，暂停使用"
    assert ("success", "已冻结 1 个账户。") in messages_of(response)


def test_freezing_without_a_reason_is_refused(client, clerk, ningbo):
    account = account_of(ningbo)

    response = client.post(url("account"), freeze_data(account, reason="  "))

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE
    assert not AccountStatusChange.objects.exists()


def test_freezing_from_the_account_page(client, clerk, ningbo):
    account = account_of(ningbo)
    data = {"CHANGE_FORM-action": "freeze_accounts", ACTION_CHECKBOX_NAME: account.pk, "apply": "1",
            "reason": "司法冻结"}

    response = client.post(url("account", "change", account.pk), data)

    assert response.url == url("account", "change", account.pk)
    assert Account.objects.get(pk=account.pk).status == Account.Status.FROZEN
    assert "司法冻结" in client.get(url("account", "change", account.pk)).text


def test_unfreezing_lifts_the_freeze(client, clerk, ningbo):
    account = account_of(ningbo)
    services.freeze_account(account=account, actor=clerk, reason="司法冻结")

    response = client.post(url("account"), freeze_data(account, "解除司法冻结", action="unfreeze_accounts"))

    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE
    latest = AccountStatusChange.objects.filter(account=account).first()
    assert (latest.to_status, latest.reason, latest.actor) == (Account.Status.ACTIVE, "解除司法冻结", clerk)
    assert ("success", "已解除冻结 1 个账户。") in messages_of(response)


def test_unfreezing_an_active_account_reports_the_refusal(client, clerk, ningbo):
    account = account_of(ningbo)

    response = client.post(url("account"), freeze_data(account, "误操作", action="unfreeze_accounts"))

    assert ("error", f"{account}：账户当前为“正常”，不是“冻结”状态，不能改为“正常”。") in messages_of(response)
    assert not AccountStatusChange.objects.exists()


def test_unfreezing_refuses_a_closed_account(client, clerk, ningbo):
    account = account_of(ningbo)
    services.change_account_status(
        account=account, to_status=Account.Status.CLOSED, actor=clerk, reason="提取审批通过"
    )

    response = client.post(url("account"), freeze_data(account, "解除冻结", action="unfreeze_accounts"))

    assert ("error", f"{account}：账户当前为“已关闭”，不是“冻结”状态，不能改为“正常”。") in messages_of(response)
    assert not any(level == "success" for level, _text in messages_of(response))
    assert Account.objects.get(pk=account.pk).status == Account.Status.CLOSED
    assert AccountStatusChange.objects.filter(account=account).count() == 1


def test_clerk_cannot_freeze_an_account_of_another_region(client, clerk, dongguan):
    account = account_of(dongguan)

    client.post(url("account"), freeze_data(account))

    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE
    assert not AccountStatusChange.objects.exists()


def test_clerk_without_freeze_permission_cannot_freeze(client, reviewer, ningbo):
    client.force_login(grant(reviewer, "view_account"))
    account = account_of(ningbo)

    listing = client.get(url("account"))
    client.post(url("account"), freeze_data(account))

    assert "freeze_accounts" not in listing.text
    assert Account.objects.get(pk=account.pk).status == Account.Status.ACTIVE


def test_accounts_are_view_only_even_for_a_superuser(admin_client, ningbo):
    account = account_of(ningbo)

    assert admin_client.get(url("account", "add")).status_code == 403
    assert admin_client.post(url("account", "change", account.pk), {"balance": "99999.00"}).status_code == 403
    assert admin_client.post(url("account", "delete", account.pk), {"post": "yes"}).status_code == 403
    assert Account.objects.get(pk=account.pk).balance == Decimal("2000.00")


# Ledger ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["journaltransaction", "ledgerentry"])
def test_ledger_rows_cannot_be_added_changed_or_deleted_even_by_a_superuser(admin_client, ningbo, model):
    row = (JournalTransaction if model == "journaltransaction" else LedgerEntry).objects.first()
    entries_before = list(LedgerEntry.objects.values_list("pk", "amount", "balance_after"))

    assert admin_client.get(url(model, "change", row.pk)).status_code == 200
    assert admin_client.get(url(model, "add")).status_code == 403
    assert admin_client.post(url(model, "add"), {"amount": "1.00"}).status_code == 403
    assert admin_client.post(url(model, "change", row.pk), {"amount": "1.00"}).status_code == 403
    assert admin_client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert list(LedgerEntry.objects.values_list("pk", "amount", "balance_after")) == entries_before


def test_transaction_page_shows_its_entries(admin_client, ningbo):
    journal = LedgerEntry.objects.get(account=account_of(ningbo)).transaction

    response = admin_client.get(url("journaltransaction", "change", journal.pk))

    assert "2000.00" in response.text
    assert "-2000.00" in response.text


def test_clerk_sees_only_ledger_rows_of_own_region(client, clerk, ningbo, dongguan):
    entries = listed(client.get(url("ledgerentry")))
    transactions = listed(client.get(url("journaltransaction")))

    assert {entry.account.region.code for entry in entries} == {"330200"}
    assert len(entries) == 2
    assert transactions == [LedgerEntry.objects.get(account=account_of(ningbo)).transaction]


def test_ledger_entries_are_found_by_exact_transaction_id(client, clerk, ningbo):
    journal = LedgerEntry.objects.get(account=account_of(ningbo)).transaction
    make_employee(balance="300.00")

    found = listed(client.get(url("ledgerentry"), {"q": str(journal.pk)}))

    assert {entry.transaction_id for entry in found} == {journal.pk}
    assert len(found) == 2
    assert listed(client.get(url("ledgerentry"), {"q": "abc"})) == []


# Other read-only lists ------------------------------------------------------------------------------


def test_clerk_sees_notices_of_own_region_only(client, clerk, ningbo, dongguan):
    mine = services.notify(person=ningbo, title="提取申请已受理", body="…")
    services.notify(person=dongguan, title="转移已完成", body="…")

    response = client.get(url("notice"))

    assert listed(response) == [mine]
    assert client.post(url("notice", "change", mine.pk), {"title": "改"}).status_code == 403


def test_clerk_sees_monthly_credits_of_own_region_only(client, clerk, ningbo, dongguan):
    credit_monthly(month=datetime.date(2026, 1, 1))

    credits = listed(client.get(url("monthlycredit")))

    assert [credit.account for credit in credits] == [account_of(ningbo)]
    assert credits[0].amount == Decimal("160.00")


# Regions --------------------------------------------------------------------------------------------


def region_data(a_region, **overrides):
    data = {name: value for name, value in model_to_dict(a_region).items() if value is not None}
    data.update(overrides, _save="1")
    # The region's versions and premium years are inlines shown read-only: no rows come back.
    for prefix in ("policy_versions", "premium_rates"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def test_renaming_a_region_records_who_changed_it(admin_client, admin_user):
    ningbo = region("330200")
    before = ningbo.history.count()

    response = admin_client.post(url("region", "change", ningbo.pk), region_data(ningbo, name="宁波"))

    assert response.status_code == 302
    assert region("330200").name == "宁波"
    assert ningbo.history.count() == before + 1
    assert ningbo.history.latest().history_user == admin_user
    assert admin_client.get(url("region", "history", ningbo.pk)).status_code == 200


def test_clerk_with_change_permission_cannot_change_the_code_of_own_region(client, reviewer):
    client.force_login(grant(reviewer, "view_region", "change_region"))
    ningbo = region("330200")

    client.post(url("region", "change", ningbo.pk), region_data(ningbo, code="999999", name="改名"))

    ningbo.refresh_from_db()
    assert (ningbo.code, ningbo.name) == ("330200", "宁波市")


def test_clerk_sees_only_own_region(client, reviewer):
    client.force_login(grant(reviewer, "view_region", "change_region"))
    dongguan = region("441900")

    assert listed(client.get(url("region"))) == [region("330200")]
    assert client.get(url("region", "change", dongguan.pk)).status_code == 302
    assert client.get(url("region", "history", dongguan.pk)).status_code == 404


def test_only_a_superuser_adds_regions(client, reviewer, admin_client):
    client.force_login(grant(reviewer, "view_region", "add_region"))

    assert client.get(url("region", "add")).status_code == 403
    assert admin_client.get(url("region", "add")).status_code == 200
    assert admin_client.post(url("region", "delete", region("330200").pk), {"post": "yes"}).status_code == 403
    assert Region.objects.filter(code="330200").exists()


def test_editing_a_province_records_who_changed_it(admin_client, admin_user):
    Province.objects.filter(code="33").update(accounts_province_wide=True)
    zhejiang = Province.objects.get(code="33")
    data = {"code": "33", "name": "浙江省", "_save": "1"}

    admin_client.post(url("province", "change", zhejiang.pk), data)

    zhejiang.refresh_from_db()
    assert zhejiang.accounts_province_wide is False
    assert zhejiang.history.latest().history_user == admin_user


def test_clerk_cannot_switch_the_province_wide_policy_even_with_the_permission(client, reviewer):
    # The switch changes how money moves in every region of the province, not only the clerk's.
    client.force_login(grant(reviewer, "view_province", "change_province"))
    zhejiang = Province.objects.get(code="33")
    assert zhejiang.accounts_province_wide is True  # as the data migration seeds it
    data = {"code": "33", "name": "浙江省", "_save": "1"}  # an unticked box: switch it off

    page = client.get(url("province", "change", zhejiang.pk))
    response = client.post(url("province", "change", zhejiang.pk), data)

    assert page.status_code == 200
    assert 'name="accounts_province_wide"' not in page.text
    assert response.status_code == 403
    assert Province.objects.get(code="33").accounts_province_wide is True


def test_clerk_sees_only_the_province_of_own_region(client, reviewer):
    client.force_login(grant(reviewer, "view_province"))
    assert [province.code for province in listed(client.get(url("province")))] == ["33"]


# Logins ---------------------------------------------------------------------------------------------


def test_user_list_masks_citizen_login_names_and_finds_them_whole(admin_client, ningbo):
    make_citizen_user(ningbo)

    listing = admin_client.get(reverse("admin:accounts_user_changelist"))
    found = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": ningbo.id_number})
    fragment = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": ningbo.id_number[:8]})

    assert ningbo.id_number not in listing.text
    assert [user.person for user in listed(found)] == [ningbo]
    assert listed(fragment) == []


def test_admin_messages_and_recent_actions_show_a_citizen_login_masked(admin_client, ningbo):
    user = make_citizen_user(ningbo)
    masked = mask_id_number(ningbo.id_number)

    response = admin_client.post(reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"})

    assert str(user) == masked
    assert any(masked in text for _level, text in messages_of(response))
    assert not any(ningbo.id_number in text for _level, text in messages_of(response))
    entry = LogEntry.objects.get()
    assert entry.object_repr == masked
    assert ningbo.id_number not in admin_client.get(reverse("admin:index")).text


def test_staff_login_names_are_shown_as_they_are(reviewer):
    assert str(reviewer) == "reviewer"


def test_login_attempts_are_not_listed_in_the_admin(admin_client):
    # django-axes' own admin would list every attempt with its login name: a citizen's full ID number.
    assert not admin.site.is_registered(AccessAttempt)
    assert not admin.site.is_registered(AccessLog)
    assert "axes" not in admin_client.get(reverse("admin:index")).text


def test_staff_page_shows_regions_served(admin_client, reviewer):
    response = admin_client.get(reverse("admin:accounts_user_change", args=[reviewer.pk]))

    assert response.status_code == 200
    assert "服务统筹区" in response.text


# Query counts ---------------------------------------------------------------------------------------


def populate(count):
    for _ in range(count):
        person = make_employee(balance="100.00")
        make_resident(name="居民")
        services.notify(person=person, title="通知", body="…")
    credit_monthly(month=datetime.date(2026, 1, 1))


@pytest.mark.parametrize(
    "model",
    [
        "person", "enrolment", "account", "journaltransaction", "ledgerentry", "monthlycredit", "notice",
        "region", "policyversion", "premiumrate",
    ],
)
@pytest.mark.parametrize("who", ["clerk", "superuser"])
def test_list_pages_make_the_same_number_of_queries_however_many_rows(client, reviewer, model, who):
    user = grant_desk(reviewer) if who == "clerk" else make_staff("boss", superuser=True)
    client.force_login(user)
    populate(5)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(model)).status_code == 200
    populate(25)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(model))

    assert len(listed(response)) >= (1 if model in ("region", "policyversion", "premiumrate") else 30)
    assert len(many) == len(few), [query["sql"] for query in many]


def test_user_and_staff_lists_make_the_same_number_of_queries(admin_client):
    def add_staff(start, count):
        for number in range(start, start + count):
            make_staff(f"clerk{number}", "330200", "441900")

    add_staff(0, 3)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse("admin:accounts_staffprofile_changelist"))
        admin_client.get(reverse("admin:accounts_user_changelist"))
    add_staff(3, 20)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse("admin:accounts_staffprofile_changelist"))
        admin_client.get(reverse("admin:accounts_user_changelist"))

    assert len(many) == len(few)


@pytest.mark.django_db
def test_clerk_with_user_permissions_still_cannot_manage_logins(client, clerk):
    grant(clerk, "view_user", "change_user", "view_staffprofile")
    client.force_login(clerk)
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403
    assert client.get(reverse("admin:accounts_staffprofile_changelist")).status_code == 403


@pytest.mark.django_db
def test_superuser_manages_logins(admin_client):
    assert admin_client.get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:accounts_staffprofile_changelist")).status_code == 200


# The reserved phone ---------------------------------------------------------------------------------


def test_a_clerk_changes_the_reserved_phone_and_both_numbers_are_told(
    client, clerk, ningbo, django_capture_on_commit_callbacks
):
    from accounts import sms

    old = ningbo.phone
    form = {
        "name": ningbo.name, "phone": "13911112222", "card_number": ningbo.card_number, "died_on": "",
        "enrolments-TOTAL_FORMS": "0", "enrolments-INITIAL_FORMS": "0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("person", "change", ningbo.pk), form)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    ningbo.refresh_from_db()
    assert ningbo.phone == "13911112222"
    assert sorted(message.to for message in sms.outbox) == sorted([old, "13911112222"])
    assert all("尾号2222" in message.text and not message.code for message in sms.outbox)
    latest = ningbo.history.first()
    assert (latest.history_user, latest.history_change_reason) == (clerk, "窗口凭身份证变更预留手机号")
    assert ningbo.history.all()[1].phone == old
    assert Notice.objects.filter(person=ningbo, title="预留手机号已变更").exists()


def test_an_unchanged_phone_texts_nobody(client, clerk, ningbo, django_capture_on_commit_callbacks):
    from accounts import sms

    form = {
        "name": "张伟", "phone": ningbo.phone, "card_number": ningbo.card_number, "died_on": "",
        "enrolments-TOTAL_FORMS": "0", "enrolments-INITIAL_FORMS": "0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("person", "change", ningbo.pk), form)
    assert not sms.outbox
