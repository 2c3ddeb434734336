"""Quotas: top-ups within the limits of count, size and hour; unused quota back to the payer on every ending."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts import ledger
from accounts.models import Account, Enrolment, JournalTransaction, Notice, Region
from accounts.services import (
    ServiceError,
    freeze_account,
    personal_account_of,
    record_enrolment,
    stop_enrolment,
    unfreeze_account,
)
from conftest import make_citizen_user, make_resident, set_policy
from sharing import bindings
from sharing.models import Binding, QuotaTopUp

from .family import *  # noqa: F403

Status, EndReason = Binding.Status, Binding.EndReason


def top_up(binding, amount, now=NOW):
    return bindings.top_up_quota(binding=binding, amount=amount, actor=binding.payer.user, now=now)


def refused(code, binding, amount, now=NOW):
    with pytest.raises(ServiceError) as caught:
        top_up(binding, amount, now)
    assert caught.value.code == code, caught.value.message
    return caught.value.message


@pytest.fixture(autouse=True)
def _ledger_stays_exact(db):
    yield
    assert ledger.audit() == []


# Top-ups ------------------------------------------------------------------------------------------


def test_a_top_up_moves_money_from_the_personal_account_to_the_quota(quota_binding, payer, child):
    topup = top_up(quota_binding, Decimal("300.00"))
    assert balance_of(payer) == Decimal("1700.00")
    assert refreshed(quota_binding).quota_account.balance == Decimal("300.00")
    assert topup.journal.kind == JournalTransaction.Kind.QUOTA_TOPUP
    assert sorted(topup.journal.entries.values_list("amount", flat=True)) == [Decimal("-300.00"), Decimal("300.00")]
    assert Notice.objects.filter(person=child, title="共济额度增加了").exists()
    assert Notice.objects.filter(person=payer, title="共济额度已划拨").exists()


def test_the_fourth_top_up_of_a_day_is_refused(quota_binding, payer):
    for hour in (8, 12, 16):
        top_up(quota_binding, Decimal("10.00"), now=at(hour))
    message = refused("too_many_topups", quota_binding, Decimal("10.00"), now=at(21, 59))
    assert "3次" in message
    assert QuotaTopUp.objects.count() == 3
    assert balance_of(payer) == Decimal("1970.00")


def test_the_count_starts_again_on_the_next_local_day(quota_binding):
    for hour in (19, 20, 21):
        top_up(quota_binding, Decimal("10.00"), now=at(hour))
    # 06:00 in Beijing is 22:00 UTC of the day before: the count is by the citizens' calendar day.
    tomorrow = at(6, day=NOW.date() + datetime.timedelta(days=1))
    top_up(quota_binding, Decimal("10.00"), now=tomorrow)
    assert QuotaTopUp.objects.count() == 4


def test_the_count_is_per_relative(payer, child):
    first = bind(payer, child, way="quota")
    second = bind(payer, make_resident(name="张强", birth="19880505"), relation="sibling", way="quota")
    for hour in (8, 9, 10):
        top_up(first, Decimal("1.00"), now=at(hour))
    top_up(second, Decimal("1.00"), now=at(11))


def test_ending_and_binding_again_does_not_restart_the_days_count(quota_binding, payer, child):
    for hour in (8, 9, 10):
        top_up(quota_binding, Decimal("10.00"), now=at(hour))
    bindings.end_binding(binding=quota_binding, actor=payer.user, reason=EndReason.PAYER, now=at(11))
    again = bind(payer, child, way="quota", now=at(11))
    refused("too_many_topups", again, Decimal("10.00"), now=at(12))
    assert QuotaTopUp.objects.count() == 3
    top_up(again, Decimal("10.00"), now=at(8, day=NOW.date() + datetime.timedelta(days=1)))


def test_a_top_up_of_the_limit_is_accepted_and_one_fen_more_is_refused(quota_binding):
    message = refused("over_limit", quota_binding, Decimal("2000.01"))
    assert "¥2,000.00" in message
    top_up(quota_binding, Decimal("2000.00"))
    assert refreshed(quota_binding).quota_account.balance == Decimal("2000.00")


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5.00"), Decimal("0.001"), Decimal("10.005"), "abc", Decimal("NaN")])
def test_odd_amounts_are_refused(quota_binding, amount):
    refused("bad_amount", quota_binding, amount)
    assert not QuotaTopUp.objects.exists()


def test_the_limit_is_the_payers_regions_parameter(quota_binding):
    set_policy("330200", quota_topup_limit=Decimal("500.00"), quota_topups_per_day=1)
    refused("over_limit", quota_binding, Decimal("500.01"))
    top_up(quota_binding, Decimal("500.00"))
    refused("too_many_topups", quota_binding, Decimal("1.00"), now=at(11))


@pytest.mark.parametrize("moment", [(22, 0), (23, 30), (0, 0), (3, 0), (5, 59)])
def test_top_ups_pause_between_ten_at_night_and_six_in_the_morning(quota_binding, moment):
    message = refused("quiet_hours", quota_binding, Decimal("10.00"), now=at(*moment))
    assert "22:00至次日06:00" in message


@pytest.mark.parametrize("moment", [(6, 0), (12, 0), (21, 59)])
def test_top_ups_are_accepted_outside_the_pause(quota_binding, moment):
    top_up(quota_binding, Decimal("10.00"), now=at(*moment))


def test_a_pause_that_does_not_wrap_midnight(quota_binding):
    set_policy("330200", quota_quiet_from=datetime.time(12), quota_quiet_until=datetime.time(13))
    refused("quiet_hours", quota_binding, Decimal("1.00"), now=at(12, 30))
    top_up(quota_binding, Decimal("1.00"), now=at(23, 0))


def test_an_empty_pause_never_refuses(quota_binding):
    set_policy("330200", quota_quiet_from=datetime.time(0), quota_quiet_until=datetime.time(0))
    top_up(quota_binding, Decimal("1.00"), now=at(3, 0))


def test_limits_and_quiet_hours_are_those_in_force_at_the_moment_of_the_top_up(quota_binding):
    # From 25 November the pause is 20:00 to 07:00 and one top-up a day: the 24th still has the old rules.
    set_policy(
        "330200", since=datetime.date(2026, 11, 25), quota_quiet_from=datetime.time(20),
        quota_quiet_until=datetime.time(7), quota_topups_per_day=1,
    )
    top_up(quota_binding, Decimal("1.00"), now=at(21, 0))
    top_up(quota_binding, Decimal("1.00"), now=at(21, 30))
    next_day = NOW.date() + datetime.timedelta(days=1)
    assert "20:00至次日07:00" in refused("quiet_hours", quota_binding, Decimal("1.00"), now=at(6, 30, day=next_day))
    top_up(quota_binding, Decimal("1.00"), now=at(7, 0, day=next_day))
    refused("too_many_topups", quota_binding, Decimal("1.00"), now=at(8, 0, day=next_day))


def test_a_top_up_larger_than_the_balance_is_refused_and_leaves_nothing(quota_binding, payer):
    with pytest.raises(ServiceError) as caught:
        top_up(quota_binding, Decimal("2000.00"))
        top_up(quota_binding, Decimal("0.01"), now=at(11))
    assert caught.value.code == "insufficient_funds"
    assert QuotaTopUp.objects.count() == 1
    assert balance_of(payer) == Decimal("0.00")


def test_a_frozen_account_cannot_top_up(quota_binding, payer, reviewer):
    freeze_account(account=personal_account_of(payer), actor=reviewer, reason="司法冻结")
    refused("account_unavailable", quota_binding, Decimal("10.00"))
    assert not QuotaTopUp.objects.exists()


def test_a_direct_binding_takes_no_top_up(direct_binding):
    assert "不需要划拨额度" in refused("not_quota", direct_binding, Decimal("10.00"))


def test_only_the_payer_tops_up(quota_binding, child):
    make_citizen_user(child)
    with pytest.raises(ServiceError) as caught:
        bindings.top_up_quota(binding=quota_binding, amount=Decimal("1.00"), actor=child.user, now=NOW)
    assert caught.value.code == "not_payer"


def test_an_ended_binding_takes_no_top_up(quota_binding, payer):
    bindings.end_binding(binding=quota_binding, actor=payer.user, reason=EndReason.PAYER)
    refused("not_active", quota_binding, Decimal("10.00"))


# Unused quota goes back ---------------------------------------------------------------------------


def released(binding):
    return JournalTransaction.objects.filter(
        kind=JournalTransaction.Kind.QUOTA_RELEASE, entries__account=binding.quota_account
    ).distinct()


def test_ending_by_the_payer_returns_the_unused_quota(funded_quota, payer, child):
    bindings.end_binding(binding=funded_quota, actor=payer.user, reason=EndReason.PAYER)
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == EndReason.PAYER and row.ended_by == payer.user
    assert row.quota_account.balance == Decimal("0.00")
    assert balance_of(payer) == Decimal("2000.00")
    assert released(row).count() == 1
    notice = Notice.objects.filter(person=payer, title="家庭共济已解除").get()
    assert "¥500.00 已退回" in notice.body
    assert Notice.objects.filter(person=child, title="家庭共济已解除").exists()


def test_ending_by_the_relative_returns_the_unused_quota(funded_quota, payer, child):
    make_citizen_user(child)
    bindings.end_binding(binding=funded_quota, actor=child.user, reason=EndReason.RELATIVE)
    assert refreshed(funded_quota).end_reason == EndReason.RELATIVE
    assert balance_of(payer) == Decimal("2000.00")


def test_ending_by_staff_returns_the_unused_quota(funded_quota, payer, clerk):
    bindings.end_binding(binding=funded_quota, actor=clerk, reason=EndReason.STAFF, note="共济人到窗口申请解除")
    row = refreshed(funded_quota)
    assert row.end_reason == EndReason.STAFF and row.end_note == "共济人到窗口申请解除"
    assert balance_of(payer) == Decimal("2000.00")
    assert "共济人到窗口申请解除" in Notice.objects.filter(title="家庭共济已解除").first().body


def test_staff_must_say_why(funded_quota, clerk):
    with pytest.raises(ServiceError) as caught:
        bindings.end_binding(binding=funded_quota, actor=clerk, reason=EndReason.STAFF, note="  ")
    assert caught.value.code == "note_required"
    assert refreshed(funded_quota).status == Status.ACTIVE


def test_staff_of_another_region_cannot_end_it(funded_quota, dg_clerk):
    with pytest.raises(ServiceError) as caught:
        bindings.end_binding(binding=funded_quota, actor=dg_clerk, reason=EndReason.STAFF, note="错误")
    assert caught.value.code == "not_in_region"


def test_a_stranger_cannot_end_it(funded_quota, outsider):
    with pytest.raises(ServiceError) as caught:
        bindings.end_binding(binding=funded_quota, actor=outsider.user, reason=EndReason.PAYER)
    assert caught.value.code == "not_payer"


def test_ending_twice_is_refused(funded_quota, payer):
    bindings.end_binding(binding=funded_quota, actor=payer.user, reason=EndReason.PAYER)
    with pytest.raises(ServiceError) as caught:
        bindings.end_binding(binding=funded_quota, actor=payer.user, reason=EndReason.PAYER)
    assert caught.value.code == "already_handled"
    assert released(funded_quota).count() == 1


def test_an_empty_quota_ends_without_a_posting(quota_binding, payer):
    bindings.end_binding(binding=quota_binding, actor=payer.user, reason=EndReason.PAYER)
    assert not released(refreshed(quota_binding)).exists()


# Ending by itself -----------------------------------------------------------------------------------


def test_the_payers_enrolment_stopping_ends_the_binding_and_returns_the_quota(funded_quota, payer, child):
    stop_enrolment(enrolment=payer.enrolments.get(status="active"))
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == EndReason.PAYER_ENROLMENT and row.ended_by is None
    assert row.quota_account.balance == Decimal("0.00")
    assert balance_of(payer) == Decimal("2000.00")
    assert "共济人参保状态变化" in Notice.objects.filter(person=child, title="家庭共济已解除").get().body


def test_the_relatives_enrolment_stopping_ends_the_binding(funded_quota, payer, child):
    stop_enrolment(enrolment=child.enrolments.get(status="active"))
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == EndReason.RELATIVE_ENROLMENT
    assert balance_of(payer) == Decimal("2000.00")


def test_a_transferred_out_enrolment_ends_the_binding(direct_binding, child):
    stop_enrolment(enrolment=child.enrolments.get(status="active"), status=Enrolment.Status.TRANSFERRED_OUT)
    assert refreshed(direct_binding).status == Status.ENDED


def test_the_relative_moving_to_another_region_ends_the_binding(funded_quota, payer, child):
    stop_enrolment(enrolment=child.enrolments.get(status="active"))
    record_enrolment(person=child, region=Region.objects.get(code="330100"), insurance_type="resident")
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == EndReason.RELATIVE_ENROLMENT
    assert balance_of(payer) == Decimal("2000.00")


def test_an_enrolment_whose_region_is_changed_in_place_ends_the_binding(funded_quota, payer):
    enrolment = payer.enrolments.get(status="active")
    enrolment.region = Region.objects.get(code="330100")
    enrolment.save()
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == EndReason.PAYER_ENROLMENT
    assert balance_of(payer) == Decimal("2000.00")


def test_an_unrelated_enrolment_change_leaves_the_binding_alone(direct_binding, payer):
    enrolment = payer.enrolments.get(status="active")
    enrolment.contribution_base = Decimal("9000.00")
    enrolment.save()
    assert refreshed(direct_binding).status == Status.ACTIVE


def test_a_pending_request_is_withdrawn_when_the_payer_leaves(payer, spouse):
    binding = bind(payer, spouse, relation="spouse")
    stop_enrolment(enrolment=payer.enrolments.get(status="active"))
    row = refreshed(binding)
    assert row.status == Status.CANCELLED and row.end_reason == EndReason.PAYER_ENROLMENT
    assert Notice.objects.filter(person=spouse, title="家庭共济请求已撤销").exists()


def test_a_stop_written_without_a_signal_is_caught_when_bindings_are_read(funded_quota, payer, child):
    # A bulk update sends no post_save; reading the bindings ends them all the same.
    Enrolment.objects.filter(person=child).update(status=Enrolment.Status.STOPPED)
    assert refreshed(funded_quota).status == Status.ACTIVE
    bindings.refresh_for(payer)
    assert refreshed(funded_quota).status == Status.ENDED
    assert balance_of(payer) == Decimal("2000.00")


def test_the_command_ends_what_the_signal_missed(funded_quota, payer):
    Enrolment.objects.filter(person=payer).update(status=Enrolment.Status.STOPPED)
    out = io.StringIO()
    call_command("expire_bindings", stdout=out)
    assert "自动解除 1 个" in out.getvalue()
    assert refreshed(funded_quota).status == Status.ENDED


def test_recording_the_payers_death_ends_the_binding_and_returns_the_quota(funded_quota, payer, child):
    # The enrolment may stay active until an heir's withdrawal: the death alone must end the sharing, so
    # that the quota is back in the account the heirs withdraw.
    payer.died_on = NOW.date()
    payer.save()
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == EndReason.PAYER_ENROLMENT
    assert row.end_note == "共济人已身故" and row.quota_account.balance == Decimal("0.00")
    assert balance_of(payer) == Decimal("2000.00")
    assert "共济人已身故" in Notice.objects.filter(person=child, title="家庭共济已解除").get().body


def test_recording_the_relatives_death_ends_the_binding(funded_quota, payer, child):
    child.died_on = NOW.date()
    child.save()
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == EndReason.RELATIVE_ENROLMENT
    assert row.end_note == "被共济人已身故"
    assert balance_of(payer) == Decimal("2000.00")


def test_a_death_written_without_a_signal_is_caught_by_the_command(funded_quota, payer):
    from accounts.models import Person

    Person.objects.filter(pk=payer.pk).update(died_on=NOW.date())
    call_command("expire_bindings", stdout=io.StringIO())
    assert refreshed(funded_quota).status == Status.ENDED
    assert balance_of(payer) == Decimal("2000.00")


def test_other_registry_edits_leave_the_binding_alone(direct_binding, payer):
    payer.phone = "13900000000"
    payer.save()
    assert refreshed(direct_binding).status == Status.ACTIVE


# When the payer's account cannot take the money back -----------------------------------------------


def test_a_frozen_payer_account_keeps_the_quota_held_and_the_binding_ends(funded_quota, payer, child, reviewer):
    account = personal_account_of(payer)
    freeze_account(account=account, actor=reviewer, reason="司法冻结")
    ended = bindings.end_binding(binding=funded_quota, actor=payer.user, reason=EndReason.PAYER)
    assert ended.quota_outcome.held == Decimal("500.00") and ended.quota_outcome.returned == Decimal("0.00")
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.quota_awaiting_return
    assert row.quota_account.balance == Decimal("500.00")
    assert "暂时保留" in Notice.objects.filter(person=payer, title="家庭共济已解除").get().body
    # Nothing lost: 1500 in the account, 500 held, and the ledger agrees.
    assert balance_of(payer) == Decimal("1500.00")
    assert ledger.audit() == []

    # Still frozen: asking again changes nothing.
    assert bindings.return_held_quota(binding=row).held == Decimal("500.00")

    unfreeze_account(account=account, actor=reviewer, reason="解除冻结")
    outcome = bindings.return_held_quota(binding=row, actor=reviewer)
    assert outcome.returned == Decimal("500.00")
    assert balance_of(payer) == Decimal("2000.00")
    assert not refreshed(row).quota_awaiting_return
    assert Notice.objects.filter(person=payer, title="共济额度已退回").exists()


def test_the_enrolment_signal_never_fails_on_a_frozen_account(funded_quota, payer, reviewer):
    freeze_account(account=personal_account_of(payer), actor=reviewer, reason="司法冻结")
    stop_enrolment(enrolment=payer.enrolments.get(status="active"))
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.quota_account.balance == Decimal("500.00")
    assert payer.enrolments.get().status == Enrolment.Status.STOPPED


def test_held_quotas_go_back_when_the_command_runs_after_the_account_is_usable(funded_quota, payer, reviewer):
    account = personal_account_of(payer)
    freeze_account(account=account, actor=reviewer, reason="司法冻结")
    bindings.end_binding(binding=funded_quota, actor=payer.user, reason=EndReason.PAYER)
    unfreeze_account(account=account, actor=reviewer, reason="解除冻结")
    out = io.StringIO()
    call_command("expire_bindings", stdout=out)
    assert "退回保留额度 1 笔" in out.getvalue()
    assert balance_of(payer) == Decimal("2000.00")


def test_a_held_quota_is_not_returned_while_the_binding_is_open(funded_quota):
    with pytest.raises(ServiceError) as caught:
        bindings.return_held_quota(binding=funded_quota)
    assert caught.value.code == "still_open"


def test_a_quota_never_goes_to_an_account_in_another_province(funded_quota, payer):
    # The payer later has an account elsewhere (a transfer to 东莞): the held money waits for staff.
    account = personal_account_of(payer)
    Account.objects.filter(pk=account.pk).update(status=Account.Status.CLOSED)
    bindings.end_binding(binding=funded_quota, actor=payer.user, reason=EndReason.PAYER)
    stop_enrolment(enrolment=payer.enrolments.get(status="active"))
    record_enrolment(
        person=payer, region=Region.objects.get(code="441900"), insurance_type="employee",
        employment="in_service", contribution_base=Decimal("8000.00"),
    )
    assert bindings.return_held_quota(binding=funded_quota).held == Decimal("500.00")
    assert refreshed(funded_quota).quota_account.balance == Decimal("500.00")
