"""Every move of a transfer, who may make it, and what each step leaves behind."""

import pytest

from accounts.models import Account, Enrolment, Notice
from accounts.services import freeze_account
from conftest import make_employee, make_id_number, make_staff, region
from review.materials import materials_of
from transfers import services
from transfers.models import ID_CARD_KIND, TransferApplication

from .conftest import DONGGUAN, NINGBO, apply, grant, move, png_upload, refreshed

pytestmark = pytest.mark.django_db

Status = TransferApplication.Status

CALLS = {
    "accept": lambda application, user: services.accept_transfer(application=application, actor=user),
    "return": lambda application, user: services.return_transfer(
        application=application, actor=user, note="请补正"),
    "refuse": lambda application, user: services.refuse_transfer(
        application=application, actor=user, reason="不符合"),
    "transfer_out": lambda application, user: services.transfer_out(application=application, actor=user),
    "transfer_in": lambda application, user: services.transfer_in(application=application, actor=user),
}
# (status, step) -> the side whose clerks take it, and where it leads. Every pair not here is forbidden.
ALLOWED = {
    ("submitted", "accept"): ("new", Status.ACCEPTED),
    ("submitted", "return"): ("new", Status.RETURNED),
    ("submitted", "refuse"): ("new", Status.REFUSED),
    ("accepted", "transfer_out"): ("old", Status.TRANSFERRED_OUT),
    ("accepted", "return"): ("old", Status.RETURNED),
    ("accepted", "refuse"): ("old", Status.REFUSED),
    ("transferred_out", "transfer_in"): ("new", Status.COMPLETED),
}
STATUSES = ["submitted", "accepted", "transferred_out", "completed", "returned", "refused", "cancelled"]


@pytest.fixture
def returned(submitted, nb_clerk):
    return services.return_transfer(application=submitted, actor=nb_clerk, note="身份证图片不清晰")


@pytest.fixture
def refused(submitted, nb_clerk):
    return services.refuse_transfer(application=submitted, actor=nb_clerk, reason="不符合条件")


@pytest.fixture
def cancelled(submitted):
    return services.cancel_transfer(application=submitted, actor=submitted.applicant.user)


def at(request, status):
    application = request.getfixturevalue(status)
    return refreshed(application)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("step", list(CALLS))
def test_each_step_is_taken_only_by_the_region_that_owns_it(request, status, step, nb_clerk, dg_clerk):
    application = at(request, status)
    clerks = {"new": nb_clerk, "old": dg_clerk}
    owner = ALLOWED.get((status, step))
    for side, clerk in clerks.items():
        may = owner is not None and owner[0] == side
        assert services.may_take(clerk, application, step) is may, (status, step, side)
        if not may:
            with pytest.raises(services.REFUSALS) as refused:
                CALLS[step](application, clerk)
            assert refused.value.code == ("other_side" if owner else "not_allowed")
            assert refreshed(application).status == status
    if owner is not None:
        CALLS[step](application, clerks[owner[0]])
        assert refreshed(application).status == owner[1]


@pytest.mark.parametrize("status", ["submitted", "accepted", "transferred_out"])
def test_a_third_regions_clerk_and_a_clerk_without_permission_take_no_step(request, status):
    application = at(request, status)
    stranger = grant(make_staff("clerk_nj", "320100"))
    unauthorised = make_staff("bare_nb", NINGBO, DONGGUAN)
    for step in CALLS:
        for clerk in (stranger, unauthorised):
            assert not services.may_take(clerk, application, step)
            with pytest.raises(services.REFUSALS):
                CALLS[step](application, clerk)
    assert refreshed(application).status == status


def test_a_clerk_without_the_steps_permission_is_told_so(submitted):
    clerk = grant(make_staff("in_only_nb", NINGBO), "view_transferapplication", "transfer_in")
    with pytest.raises(services.ServiceError) as refused:
        services.accept_transfer(application=submitted, actor=clerk)
    assert refused.value.code == "no_permission"


def test_a_clerk_may_not_decide_their_own_transfer(db):
    person = move(make_employee(balance="100.00", region_code=DONGGUAN, name="经办员"))
    clerk = grant(make_staff("self_nb", NINGBO))
    clerk.person = person
    clerk.save()
    application = apply(person, actor=clerk)
    assert not services.may_take(clerk, application, "accept")
    with pytest.raises(services.ServiceError) as refused:
        services.accept_transfer(application=application, actor=clerk)
    assert refused.value.code == "own_case"


def test_a_superuser_may_take_both_regions_steps(submitted):
    boss = make_staff("boss", superuser=True)
    for step in ("accept", "transfer_out", "transfer_in"):
        CALLS[step](submitted, boss)
    assert refreshed(submitted).status == Status.COMPLETED


# The whole way -----------------------------------------------------------------------------------


def test_the_steps_leave_an_event_each_and_a_notice_naming_the_next(completed, nb_clerk, dg_clerk):
    events = list(completed.events)
    assert [(e.from_status, e.to_status) for e in events] == [
        ("", "submitted"), ("submitted", "accepted"), ("accepted", "transferred_out"),
        ("transferred_out", "transferred_in"), ("transferred_in", "completed"),
    ]
    assert [e.actor for e in events] == [completed.applicant.user, nb_clerk, dg_clerk, nb_clerk, nb_clerk]
    assert events[2].note == "东莞市（转出地）出具信息表并办理转出"
    notices = Notice.objects.filter(person=completed.applicant, title__contains="转")
    titles = list(notices.values_list("title", flat=True))
    assert titles == ["转移接续已办结", "原参保地已办理转出", "转移申请已受理", "转移申请已提交"]
    accepted_notice = Notice.objects.get(person=completed.applicant, title="转移申请已受理")
    assert "东莞市将在" in accepted_notice.body and accepted_notice.link == f"/transfers/{completed.pk}/"


def test_completion_frees_both_accounts_and_records_the_relationships(completed):
    row = refreshed(completed)
    assert row.old_enrolment.status == Enrolment.Status.TRANSFERRED_OUT
    assert row.new_enrolment.status == Enrolment.Status.ACTIVE
    assert row.old_account.status == Account.Status.TRANSFERRED_OUT
    assert (row.old_account.hold, row.new_account.hold) == ("", "")
    assert row.completed_at and row.transferred_in_by and row.transferred_out_by and row.accepted_by


def test_a_clerks_note_reaches_the_timeline_with_the_region(submitted, nb_clerk):
    services.accept_transfer(application=submitted, actor=nb_clerk, note="材料齐全")
    assert list(submitted.events)[-1].note == "宁波市（转入地）受理：材料齐全"


# Returns and refusals from either side ------------------------------------------------------------


def test_the_new_region_returns_before_accepting_and_the_citizen_resubmits(returned, nb_clerk):
    row = refreshed(returned)
    assert (row.status, row.returned_by, row.return_note) == (Status.RETURNED, "new", "身份证图片不清晰")
    assert Notice.objects.filter(person=row.applicant, title="转移申请需补正").exists()
    services.resubmit_transfer(
        application=row, actor=row.applicant.user, reason=TransferApplication.Reason.RESIDENCE
    )
    row = refreshed(returned)
    assert (row.status, row.reason) == (Status.SUBMITTED, "residence")
    assert "转移原因改为“居住地变更”" in list(row.events)[-1].note
    services.accept_transfer(application=row, actor=nb_clerk)
    assert refreshed(row).status == Status.ACCEPTED


def test_the_old_region_returns_and_the_new_region_accepts_again(accepted, dg_clerk, nb_clerk):
    services.return_transfer(
        application=accepted, actor=dg_clerk, note="缴费记录需核对，请补充说明", replace_id_card=True
    )
    row = refreshed(accepted)
    assert (row.returned_by, row.transfer_out_due, row.id_card_to_replace) == ("old", None, True)
    assert list(row.events)[-1].note == "东莞市退回：需重新上传身份证图片；缴费记录需核对，请补充说明"
    with pytest.raises(services.ServiceError) as refused:
        services.resubmit_transfer(application=row, actor=row.applicant.user, reason="work")
    assert refused.value.code == "id_card_not_replaced"
    services.replace_id_card(application=row, actor=row.applicant.user, uploaded_file=png_upload("新.png"))
    services.resubmit_transfer(application=row, actor=row.applicant.user, reason="work")
    row = refreshed(row)
    assert row.status == Status.SUBMITTED and row.accepted_by is None
    assert not services.may_take(dg_clerk, row, "transfer_out")
    services.accept_transfer(application=row, actor=nb_clerk)


def test_a_return_says_what_to_correct(submitted, nb_clerk):
    with pytest.raises(services.ServiceError) as refused:
        services.return_transfer(application=submitted, actor=nb_clerk, note=" ")
    assert refused.value.code == "note_required"


def test_a_refusal_needs_a_reason_and_frees_the_accounts(accepted, dg_clerk):
    with pytest.raises(services.ServiceError):
        services.refuse_transfer(application=accepted, actor=dg_clerk, reason="")
    services.refuse_transfer(application=accepted, actor=dg_clerk, reason="原参保地有欠费记录")
    row = refreshed(accepted)
    assert (row.status, row.refused_by, row.refusal_reason) == (Status.REFUSED, "old", "原参保地有欠费记录")
    assert (row.old_account.hold, row.new_account.hold) == ("", "")
    notice = Notice.objects.get(person=row.applicant, title="转移申请不予受理")
    assert "东莞市" in notice.body and "原参保地有欠费记录" in notice.body


def test_acceptance_checks_the_conditions_again(submitted, nb_clerk, dg_clerk):
    freeze_account(account=submitted.old_account, actor=dg_clerk, reason="核查")
    assert "冻结" in services.current_refusal(refreshed(submitted))
    with pytest.raises(services.ServiceError) as refused:
        services.accept_transfer(application=submitted, actor=nb_clerk)
    assert refused.value.code == "account_frozen"
    assert "请不予受理" in refused.value.message
    assert refreshed(submitted).status == Status.SUBMITTED


def test_transfer_out_checks_the_conditions_again_before_any_money(accepted, dg_clerk):
    freeze_account(account=accepted.old_account, actor=dg_clerk, reason="核查")
    with pytest.raises(services.ServiceError) as refused:
        services.transfer_out(application=accepted, actor=dg_clerk)
    assert refused.value.code == "account_frozen"
    row = refreshed(accepted)
    assert row.status == Status.ACCEPTED and row.amount is None
    # The caller's copy is rolled back with the transaction, so a page showing it again says 已受理.
    assert accepted.status == Status.ACCEPTED
    assert (accepted.transferred_out_at, accepted.transfer_in_due) == (None, None)
    assert row.old_account.balance == 1500


# The applicant's steps ---------------------------------------------------------------------------


def test_the_applicant_cancels_before_acceptance(submitted):
    services.cancel_transfer(application=submitted, actor=submitted.applicant.user)
    row = refreshed(submitted)
    assert row.status == Status.CANCELLED
    assert (row.old_account.hold, row.new_account.hold) == ("", "")


def test_an_accepted_transfer_cannot_be_cancelled(accepted):
    with pytest.raises(services.ServiceError) as refused:
        services.cancel_transfer(application=accepted, actor=accepted.applicant.user)
    assert refused.value.code == "too_late"


def test_a_returned_transfer_can_be_cancelled(returned):
    services.cancel_transfer(application=returned, actor=returned.applicant.user)
    assert refreshed(returned).status == Status.CANCELLED


def test_another_citizen_cannot_act_on_the_application(returned, applicant):
    for call in (
        lambda: services.cancel_transfer(application=returned, actor=applicant.user),
        lambda: services.resubmit_transfer(application=returned, actor=applicant.user, reason="work"),
        lambda: services.replace_id_card(
            application=returned, actor=applicant.user, uploaded_file=png_upload()
        ),
    ):
        with pytest.raises(services.ServiceError) as refused:
            call()
        assert refused.value.code == "not_applicant"


def test_the_id_card_is_replaced_only_after_a_return(submitted, returned):
    first = materials_of(returned).get()
    services.replace_id_card(
        application=returned, actor=returned.applicant.user, uploaded_file=png_upload("新.png")
    )
    old, new = materials_of(returned)
    assert new.pk != first.pk and new.original_name == "新.png" and new.kind == ID_CARD_KIND
    # The image found wanting stays for the record, marked as replaced by the new one.
    assert (old.pk, old.replaced_by_id, new.replaced_by_id) == (first.pk, new.pk, None)


def test_the_id_card_cannot_be_replaced_once_accepted(accepted):
    with pytest.raises(services.ServiceError) as refused:
        services.replace_id_card(
            application=accepted, actor=accepted.applicant.user, uploaded_file=png_upload()
        )
    assert refused.value.code == "not_returned"


# The counter, in either region -------------------------------------------------------------------


@pytest.mark.parametrize("clerk_fixture", ["nb_clerk", "dg_clerk"])
def test_a_clerk_of_either_region_lodges_at_the_counter(request, moving, clerk_fixture):
    clerk = request.getfixturevalue(clerk_fixture)
    application = services.apply_at_counter(
        clerk=clerk, applicant_id_number=moving.id_number, old_region=region(DONGGUAN),
        new_region=region(NINGBO), reason="work", id_card=png_upload("扫描件.png"),
    )
    assert (application.counter_clerk, application.region.code) == (clerk, NINGBO)
    assert application.status == "submitted"
    assert list(application.events)[0].note == "窗口办理"
    # The counter clerk acts for the citizen afterwards; the online-only guard does not stop them.
    services.cancel_transfer(application=application, actor=clerk)
    assert refreshed(application).status == Status.CANCELLED


def test_a_third_regions_counter_cannot_lodge(moving):
    stranger = grant(make_staff("clerk_nj", "320100"))
    with pytest.raises(services.ServiceError) as refused:
        services.apply_at_counter(
            clerk=stranger, applicant_id_number=moving.id_number, old_region=region(DONGGUAN),
            new_region=region(NINGBO), reason="work", id_card=png_upload(),
        )
    assert refused.value.code == "other_region"


def test_the_counter_needs_the_permission_and_a_known_person(moving, nb_clerk):
    arguments = {"old_region": region(DONGGUAN), "new_region": region(NINGBO), "reason": "work"}
    unauthorised = make_staff("bare_nb", NINGBO)
    with pytest.raises(services.ServiceError) as refused:
        services.apply_at_counter(
            clerk=unauthorised, applicant_id_number=moving.id_number, id_card=png_upload(), **arguments
        )
    assert refused.value.code == "no_permission"
    with pytest.raises(services.ServiceError) as refused:
        services.apply_at_counter(
            clerk=nb_clerk, applicant_id_number=make_id_number(), id_card=png_upload(), **arguments
        )
    assert refused.value.code == "unknown_person"


def test_a_counter_clerk_cannot_act_for_a_citizen_who_applied_online(submitted, nb_clerk):
    with pytest.raises(services.ServiceError) as refused:
        services.cancel_transfer(application=submitted, actor=nb_clerk)
    assert refused.value.code == "online_application"


def test_a_citizen_without_a_login_is_notified_all_the_same(nb_clerk):
    person = move(make_employee(balance="300.00", region_code=DONGGUAN, name="王老五"))
    application = services.apply_at_counter(
        clerk=nb_clerk, applicant_id_number=person.id_number, old_region=region(DONGGUAN),
        new_region=region(NINGBO), reason="work", id_card=png_upload(),
    )
    assert Notice.objects.filter(person=person, title="转移申请已提交").exists()
    assert application.applicant == person
