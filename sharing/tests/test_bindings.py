"""Binding a relative: who may share with whom, consent at 16, confirmation, expiry, limits and order."""

import datetime
import io

import pytest
from django.core.management import call_command

from accounts.models import Account, Notice, PolicyVersion, Region
from accounts.services import ServiceError, freeze_account, personal_account_of
from conftest import make_citizen_user, make_employee, make_resident, set_policy
from sharing import bindings
from sharing.models import Binding, Relation

from .family import *  # noqa: F403

Status = Binding.Status


def refused(code, call, *args, **kwargs):
    """Run `call`, expect a ServiceError with `code`, and return its message."""
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value.message


def set_scope(code, scope, since):
    set_policy(code, sharing_scope=scope, sharing_scope_since=since)


# Relations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("relation", [r.value for r in Relation])
def test_every_near_relative_is_admitted_where_the_2024_list_is_in_force(payer, relation):
    relative = make_resident(name="张某", birth="19900101")
    binding = bind(payer, relative, relation=relation)
    assert binding.status == Status.ACTIVE
    assert binding.relation == relation


@pytest.mark.parametrize("relation", ["sibling", "grandparent", "grandchild"])
def test_a_region_on_the_2021_list_refuses_other_near_relatives(payer, relation):
    set_scope("330200", PolicyVersion.SharingScope.NUCLEAR_FAMILY, datetime.date(2025, 1, 1))
    relative = make_resident(name="张某", birth="19900101")
    message = refused("relation_not_admitted", bind, payer, relative, relation=relation)
    assert "只能为配偶、父母、子女" in message
    assert not Binding.objects.exists()


@pytest.mark.parametrize("relation", ["spouse", "parent", "child"])
def test_a_region_on_the_2021_list_admits_spouse_parents_and_children(payer, relation):
    set_scope("330200", PolicyVersion.SharingScope.NUCLEAR_FAMILY, datetime.date(2025, 1, 1))
    relative = make_resident(name="张某", birth="19900101")
    assert bind(payer, relative, relation=relation).status == Status.ACTIVE


def test_the_wider_list_applies_only_from_its_effective_date(payer):
    set_scope("330200", PolicyVersion.SharingScope.CLOSE_RELATIVES, datetime.date(2026, 12, 1))
    brother = make_resident(name="张强", birth="19880505")
    message = refused("relation_not_admitted", bind, payer, brother, relation="sibling")
    assert "2026年12月1日" in message
    on_the_day = datetime.datetime(2026, 12, 1, 0, 0, tzinfo=NOW.tzinfo)
    assert bind(payer, brother, relation="sibling", now=on_the_day).status == Status.ACTIVE


def test_the_admitted_list_follows_the_payers_region_and_date(db):
    set_policy("330200", sharing_scope_since=datetime.date(2027, 1, 1))
    ningbo = Region.objects.get(code="330200")
    assert bindings.admitted_relations(ningbo, datetime.date(2026, 12, 31)) == {"spouse", "parent", "child"}
    assert len(bindings.admitted_relations(ningbo, datetime.date(2027, 1, 1))) == 6
    assert len(bindings.admitted_relations(Region.objects.get(code="441900"), datetime.date(2026, 12, 31))) == 6


def test_the_relations_admitted_are_those_of_the_version_in_force_on_the_day_of_the_request(payer):
    # From 1 December a new version goes back to the 2021 list: a request on 30 November is judged by the
    # version then in force, one on 1 December by the new one.
    set_policy("330200", since=datetime.date(2026, 12, 1), sharing_scope=PolicyVersion.SharingScope.NUCLEAR_FAMILY)
    brother, sister = make_resident(name="张强", birth="19880505"), make_resident(name="张丽", birth="19900606")
    before = datetime.datetime(2026, 11, 30, 23, 0, tzinfo=NOW.tzinfo)
    after = datetime.datetime(2026, 12, 1, 0, 0, tzinfo=NOW.tzinfo)

    assert bind(payer, brother, relation="sibling", now=before).status == Status.ACTIVE
    assert "只能为配偶、父母、子女" in refused("relation_not_admitted", bind, payer, sister, relation="sibling", now=after)


def test_parents_in_law_are_never_admitted(payer):
    father_in_law = make_employee(name="王建国", birth="19600101", retired=True)
    message = refused("parent_in_law", bind, payer, father_in_law, relation=bindings.PARENT_IN_LAW)
    assert "岳父母、公婆不属于近亲属" in message
    assert not Binding.objects.exists()


def test_an_unknown_relation_is_refused(payer, child):
    refused("unknown_relation", bind, payer, child, relation="cousin")


# The registry -------------------------------------------------------------------------------------


def test_name_and_id_number_must_both_match_and_every_mismatch_says_the_same(payer, child):
    wrong_name = refused("relative_mismatch", bind, payer, child, name="张小雪")
    stranger_id = refused(
        "relative_mismatch", bind, payer, child, relative_id_number="110101199003074514", name="张小雨"
    )
    assert wrong_name == stranger_id == str(bindings.RELATIVE_MISMATCH)
    assert not Binding.objects.exists()


def test_a_relative_without_an_active_enrolment_gets_the_same_message(payer, child):
    from accounts.services import stop_enrolment

    stop_enrolment(enrolment=child.enrolments.get())
    assert refused("relative_mismatch", bind, payer, child) == str(bindings.RELATIVE_MISMATCH)


def test_the_name_is_matched_after_trimming_and_the_id_number_in_capitals(payer):
    relative = make_resident(name="李雪", id_number="11010119900307803X")
    binding = bind(payer, relative, name=" 李雪 ", relative_id_number="11010119900307803x", relation="sibling")
    assert binding.relative == relative


def test_a_payer_cannot_bind_themselves(payer):
    message = refused("self", bind, payer, payer, relation="spouse")
    assert "不能与本人" in message


def test_the_promise_must_be_accepted(payer, child):
    refused("promise_required", bind, payer, child, promise_accepted=False)


# Who may pay --------------------------------------------------------------------------------------


def test_a_resident_without_a_personal_account_cannot_share(child, payer):
    refused("not_a_payer", bind, child, payer, relation="parent")


def test_a_payer_whose_employee_enrolment_stopped_cannot_share(payer, child):
    from accounts.services import stop_enrolment

    stop_enrolment(enrolment=payer.enrolments.get())
    refused("not_a_payer", bind, payer, child)


def test_a_retired_employee_can_share(mother, child):
    assert bind(mother, child, relation="grandchild").status == Status.ACTIVE


def test_a_frozen_account_cannot_start_sharing(payer, child, reviewer):
    freeze_account(account=personal_account_of(payer), actor=reviewer, reason="司法冻结")
    message = refused("account_unavailable", bind, payer, child)
    assert "冻结" in message


def test_an_employee_can_be_a_relative(payer, spouse):
    binding = bind(payer, spouse, relation="spouse", now=NOW)
    assert binding.relative == spouse and binding.relative_region.code == "330200"


# Consent at 16 ------------------------------------------------------------------------------------


def test_a_fifteen_year_old_with_a_login_is_bound_at_once_on_the_promise(payer):
    teen = make_resident(name="张晓", birth=birth_years_ago(16, extra_days=1))
    make_citizen_user(teen)
    binding = bind(payer, teen)
    assert binding.status == Status.ACTIVE
    assert binding.consent == Binding.Consent.PROMISE
    assert binding.promise == str(bindings.PROMISE)
    assert binding.expires_at is None and binding.started_at == NOW


def test_a_sixteen_year_old_with_a_login_must_confirm_within_seven_days(payer):
    teen = make_resident(name="张晓", birth=birth_years_ago(16))
    make_citizen_user(teen)
    binding = bind(payer, teen)
    assert binding.status == Status.PENDING
    assert binding.consent == ""
    assert binding.expires_at == NOW + datetime.timedelta(days=7)
    notice = Notice.objects.get(person=teen)
    assert notice.title == "请确认家庭共济请求"
    assert notice.link == f"/sharing/{binding.pk}/confirm/"
    assert "张*（您的父母）" in notice.body


def test_a_forty_year_old_without_a_login_is_bound_at_once(payer):
    brother = make_resident(name="张强", birth=birth_years_ago(40))
    binding = bind(payer, brother, relation="sibling")
    assert binding.status == Status.ACTIVE and binding.consent == Binding.Consent.PROMISE


def test_a_relative_whose_login_was_switched_off_is_bound_on_the_promise(payer, spouse):
    spouse.user.is_active = False
    spouse.user.save()
    assert bind(payer, spouse, relation="spouse").status == Status.ACTIVE


def test_a_binding_made_at_once_tells_both_sides(payer, child):
    binding = bind(payer, child)
    titles = dict(Notice.objects.values_list("person__name", "title"))
    assert titles == {"张伟": "家庭共济已生效", "张小雨": "家庭共济已生效"}
    assert Notice.objects.filter(link=f"/sharing/{binding.pk}/").count() == 2


# Confirmation, refusal, withdrawal, expiry ----------------------------------------------------------


@pytest.fixture
def request_to_spouse(payer, spouse):
    return bind(payer, spouse, relation="spouse")


def test_the_relative_confirms_and_the_binding_comes_into_force(request_to_spouse, spouse, payer):
    later = NOW + datetime.timedelta(days=6, hours=23)
    binding = bindings.confirm_binding(binding=request_to_spouse, actor=spouse.user, now=later)
    row = refreshed(binding)
    assert row.status == Status.ACTIVE and row.consent == Binding.Consent.CONFIRMED
    assert row.started_at == later and row.priority == 1
    assert Notice.objects.filter(person=payer, title="亲属已确认，家庭共济已生效").exists()


def test_only_the_relative_may_confirm(request_to_spouse, payer):
    refused("not_relative", bindings.confirm_binding, binding=request_to_spouse, actor=payer.user, now=NOW)
    assert refreshed(request_to_spouse).status == Status.PENDING


def test_the_relative_declines(request_to_spouse, spouse, payer):
    bindings.decline_binding(binding=request_to_spouse, actor=spouse.user, now=NOW)
    assert refreshed(request_to_spouse).status == Status.DECLINED
    assert Notice.objects.filter(person=payer, title="亲属拒绝了家庭共济请求").exists()
    refused("already_handled", bindings.confirm_binding, binding=request_to_spouse, actor=spouse.user, now=NOW)


def test_the_payer_withdraws_a_pending_request(request_to_spouse, spouse, payer):
    bindings.cancel_binding(binding=request_to_spouse, actor=payer.user, now=NOW)
    assert refreshed(request_to_spouse).status == Status.CANCELLED
    assert Notice.objects.filter(person=spouse, title="家庭共济请求已撤销").exists()
    # The pair is free again.
    assert bind(payer, spouse, relation="spouse").status == Status.PENDING


def test_a_request_expires_after_seven_days_and_cannot_be_confirmed(request_to_spouse, spouse, payer):
    deadline = NOW + datetime.timedelta(days=7)
    message = refused("expired", bindings.confirm_binding, binding=request_to_spouse, actor=spouse.user, now=deadline)
    assert "已经失效" in message
    row = refreshed(request_to_spouse)
    assert row.status == Status.EXPIRED and row.ended_at == deadline
    assert Notice.objects.filter(person=payer, title="家庭共济请求已过期").count() == 1


def test_a_request_is_still_open_a_moment_before_its_deadline(request_to_spouse):
    assert bindings.expire_overdue(now=NOW + datetime.timedelta(days=7, seconds=-1)) == 0
    assert refreshed(request_to_spouse).status == Status.PENDING


def test_the_expire_bindings_command_lapses_overdue_requests_once(request_to_spouse, payer):
    Binding.objects.filter(pk=request_to_spouse.pk).update(expires_at=NOW - datetime.timedelta(days=1))
    out = io.StringIO()
    call_command("expire_bindings", stdout=out)
    call_command("expire_bindings", stdout=io.StringIO())
    assert "共济请求过期 1 个" in out.getvalue()
    assert refreshed(request_to_spouse).status == Status.EXPIRED
    assert Notice.objects.filter(person=payer, title="家庭共济请求已过期").count() == 1


def test_an_expired_request_frees_the_pair(request_to_spouse, payer, spouse):
    bindings.expire_overdue(now=NOW + datetime.timedelta(days=8))
    assert bind(payer, spouse, relation="spouse", now=NOW + datetime.timedelta(days=8)).status == Status.PENDING


def test_a_request_cannot_be_confirmed_once_the_payers_account_is_frozen(request_to_spouse, spouse, payer, reviewer):
    freeze_account(account=personal_account_of(payer), actor=reviewer, reason="司法冻结")
    refused("payer_unavailable", bindings.confirm_binding, binding=request_to_spouse, actor=spouse.user, now=NOW)
    assert refreshed(request_to_spouse).status == Status.PENDING


# One per pair, ten per payer ------------------------------------------------------------------------


def test_one_open_binding_per_pair(payer, child):
    bind(payer, child)
    message = refused("already_bound", bind, payer, child, way="quota")
    assert "已有生效或待确认" in message
    assert Binding.objects.count() == 1


def test_a_pending_request_also_counts_for_the_pair(payer, spouse):
    bind(payer, spouse, relation="spouse")
    refused("already_bound", bind, payer, spouse, relation="spouse")


def test_an_ended_binding_leaves_the_pair_free(direct_binding, payer, child):
    bindings.end_binding(binding=direct_binding, actor=payer.user, reason=Binding.EndReason.PAYER)
    assert bind(payer, child).status == Status.ACTIVE


def test_the_eleventh_relative_is_refused(payer):
    relatives = [make_resident(name="张某", birth=f"19{60 + n}0101") for n in range(11)]
    for relative in relatives[:10]:
        bind(payer, relative, relation="sibling")
    message = refused("too_many_relatives", bind, payer, relatives[10], relation="sibling")
    assert "10位" in message
    assert Binding.objects.filter(payer=payer).count() == 10


def test_pending_requests_count_towards_the_limit(payer):
    set_policy("330200", max_sharing_relatives=2)
    adults = []
    for n in range(3):
        adult = make_resident(name="张某", birth=f"19{70 + n}0101")
        make_citizen_user(adult)
        adults.append(adult)
    bind(payer, adults[0], relation="sibling")
    bind(payer, adults[1], relation="sibling")
    refused("too_many_relatives", bind, payer, adults[2], relation="sibling")


def test_a_relative_may_receive_from_several_payers(child, payer, mother):
    bind(payer, child)
    bind(mother, child, relation="grandchild")
    assert Binding.objects.filter(relative=child, status=Status.ACTIVE).count() == 2


# Ways ---------------------------------------------------------------------------------------------


def test_direct_sharing_within_the_province(payer, child):
    binding = bind(payer, child)
    assert binding.way == Binding.Way.DIRECT and binding.quota_account is None


def test_direct_sharing_across_provinces_is_refused_with_the_reason(payer, far_relative):
    message = refused("direct_across_provinces", bind, payer, far_relative, relation="sibling")
    assert "跨省共济只能选择“共济额度”" in message
    assert not Binding.objects.exists()


def test_quota_sharing_across_provinces_opens_a_quota_account_in_the_payers_region(payer, far_relative):
    binding = bind(payer, far_relative, relation="sibling", way="quota")
    assert binding.status == Status.ACTIVE
    quota = binding.quota_account
    assert quota.kind == Account.Kind.QUOTA and quota.region.code == "330200" and quota.balance == 0
    assert binding.relative_region.code == "441900"


def test_a_pending_quota_binding_gets_its_account_when_confirmed(payer, spouse):
    binding = bind(payer, spouse, relation="spouse", way="quota")
    assert binding.quota_account is None
    bindings.confirm_binding(binding=binding, actor=spouse.user, now=NOW)
    assert refreshed(binding).quota_account.kind == Account.Kind.QUOTA


# The relative's order of payers -------------------------------------------------------------------


@pytest.fixture
def three_payers(child, payer, mother):
    aunt = make_employee(balance="100.00", name="张丽", birth="19800101")
    return [bind(payer, child), bind(mother, child, relation="grandchild"), bind(aunt, child, relation="sibling")]


def order_of(child):
    return list(
        Binding.objects.filter(relative=child, status=Status.ACTIVE)
        .order_by("priority", "started_at", "id")
        .values_list("pk", flat=True)
    )


def test_a_new_payer_goes_last_in_the_relatives_order(three_payers, child):
    assert [b.priority for b in three_payers] == [1, 2, 3]
    assert order_of(child) == [b.pk for b in three_payers]


def test_the_relative_moves_a_payer_up_and_down(three_payers, child):
    first, second, third = three_payers
    make_citizen_user(child)
    bindings.move_binding(binding=third, actor=child.user, direction="up")
    assert order_of(child) == [first.pk, third.pk, second.pk]
    bindings.move_binding(binding=first, actor=child.user, direction="down")
    assert order_of(child) == [third.pk, first.pk, second.pk]
    # Moving the first one up changes nothing.
    bindings.move_binding(binding=third, actor=child.user, direction="up")
    assert order_of(child) == [third.pk, first.pk, second.pk]


def test_only_the_relative_orders_their_payers(three_payers, payer):
    refused("not_relative", bindings.move_binding, binding=three_payers[0], actor=payer.user, direction="down")


def test_an_ended_payer_leaves_the_order_and_a_new_one_goes_last(three_payers, child, payer):
    bindings.end_binding(binding=three_payers[0], actor=payer.user, reason=Binding.EndReason.PAYER)
    again = bind(payer, child)
    assert order_of(child) == [three_payers[1].pk, three_payers[2].pk, again.pk]


def test_a_request_whose_payer_left_the_region_cannot_be_confirmed(request_to_spouse, spouse, payer):
    from accounts.models import Enrolment

    # Written without a signal (a bulk update): the confirmation itself notices.
    Enrolment.objects.filter(person=payer).update(status=Enrolment.Status.STOPPED)
    refused("already_handled", bindings.confirm_binding, binding=request_to_spouse, actor=spouse.user, now=NOW)
    row = refreshed(request_to_spouse)
    assert row.status == Status.CANCELLED and row.end_reason == Binding.EndReason.PAYER_ENROLMENT
