"""The review desk with withdrawals on it: the clerk's counts, the queue in working order, the
application page with its materials and 办理下一件, and no decision by a stray tick."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, User
from accounts.services import personal_account_of
from conftest import make_citizen_user, make_employee
from review.demo_files import demo_pdf
from review.materials import materials_of
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import grant, png_upload, refreshed, start, stop, upload_all

Status = WithdrawalApplication.Status
QUEUE = reverse("admin:withdrawals_withdrawalapplication_changelist")
HOME = reverse("admin:index")


def change_url(application, **query):
    url = reverse("admin:withdrawals_withdrawalapplication_change", args=[application.pk])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def queue_numbers(html):
    return re.findall(r'class="field-number"><a href="[^"]+">(W\w+)</a>', html)


def lodged(name, *, balance="500.00", due_in_days=None):
    """A submitted withdrawal of a new stopped employee; `due_in_days` moves its first-review deadline."""
    person = make_employee(balance=balance, name=name)
    make_citizen_user(person)
    stop(person)
    application = services.submit_withdrawal(
        application=upload_all(start(person)), actor=person.user, declaration_accepted=True
    )
    if due_in_days is not None:
        due = timezone.localdate() + datetime.timedelta(days=due_in_days)
        WithdrawalApplication.objects.filter(pk=application.pk).update(first_review_due=due, next_due=due)
    return refreshed(application)


# The clerk's home page ----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["reviewer_nb", "approver_nb", "reviewer_dg"])
def test_the_home_counts_equal_the_queues_they_open_for_each_demo_clerk(db, client, storage, username):
    call_command("seed_demo", force=True, stdout=io.StringIO(), stderr=io.StringIO())
    client.force_login(User.objects.get(username=username))
    html = client.get(HOME).content.decode()
    links = re.findall(r'<a href="([^"]+)"><span class="work-list__label">([^<]+)</span> '
                       r'<strong class="work-list__count">(\d+)</strong>', html)
    assert links
    for url, label, count in links:
        queue = client.get(url.replace("&amp;", "&")).content.decode()
        assert len(re.findall(r'class="field-number"><a ', queue)) == int(count), label


def test_a_superuser_sees_every_regions_counts(db, client, storage):
    call_command("seed_demo", force=True, stdout=io.StringIO(), stderr=io.StringIO())
    client.force_login(User.objects.get(username="admin"))
    html = client.get(HOME).content.decode()
    waiting = WithdrawalApplication.objects.filter(status=Status.SUBMITTED).count()
    assert f'提取待初审</span> <strong class="work-list__count">{waiting}</strong>' in html
    waiting_in = WithdrawalApplication.objects.filter(status=Status.SUBMITTED).values("region").distinct()
    assert waiting_in.count() == 2


def test_the_home_page_counts_overdue_work_in_red(reviewer_client, stopped_applicant):
    lodged("甲", due_in_days=-3)
    lodged("乙", due_in_days=4)
    html = reviewer_client.get(HOME).content.decode()
    assert '提取待初审</span> <strong class="work-list__count">2</strong>' in html
    assert '<strong class="overdue-badge">其中已超期 1 件</strong>' in html


def test_a_clerk_without_desk_permissions_sees_no_counts(client, outsider, other_region_clerk):
    client.force_login(other_region_clerk)
    assert "work-list" not in client.get(HOME).content.decode()


# The queue ----------------------------------------------------------------------------------------


def test_the_default_queue_holds_only_what_the_clerk_may_act_on_in_deadline_order(
    client, desk_reviewer, desk_approver, stopped_applicant
):
    later = lodged("甲", due_in_days=6)
    overdue = lodged("乙", due_in_days=-2)
    sooner = lodged("丙", due_in_days=1)
    reviewed = services.first_review_withdrawal(application=lodged("丁", due_in_days=3), actor=desk_reviewer)
    draft = start(stopped_applicant)
    client.force_login(desk_reviewer)
    html = client.get(QUEUE).content.decode()
    assert queue_numbers(html) == [overdue.number, sooner.number, later.number]
    assert reviewed.number not in html and draft.number not in html
    everything = queue_numbers(client.get(QUEUE, {"queue": "all"}).content.decode())
    assert reviewed.number in everything

    # The approver's queue: what is first-reviewed by somebody else, not what waits for a first review.
    client.force_login(desk_approver)
    assert queue_numbers(client.get(QUEUE).content.decode()) == [reviewed.number]


def test_the_first_reviewer_does_not_find_his_own_review_in_his_approval_queue(
    client, desk_reviewer, stopped_applicant
):
    grant(desk_reviewer, "approve_withdrawal")
    reviewed = services.first_review_withdrawal(application=lodged("甲"), actor=desk_reviewer)
    client.force_login(desk_reviewer)
    assert reviewed.number not in queue_numbers(client.get(QUEUE).content.decode())


def test_the_queue_shows_deadline_working_days_left_and_the_overdue_mark(reviewer_client, stopped_applicant):
    lodged("甲", due_in_days=-2)
    today = lodged("乙", due_in_days=0)
    html = reviewer_client.get(QUEUE).content.decode()
    assert "剩余工作日" in html and "办理期限" in html
    assert '<strong class="overdue-badge">已超期</strong>' in html
    assert "今日到期" in html and f"{today.next_due:%Y-%m-%d}" in html
    assert re.search(r"超\d+日", html)


def test_the_queue_takes_the_same_queries_for_1_and_20_rows(reviewer_client, stopped_applicant):
    lodged("甲")
    with CaptureQueriesContext(connection) as one:
        assert reviewer_client.get(QUEUE).status_code == 200
    for index in range(19):
        lodged(f"乙{index}")
    with CaptureQueriesContext(connection) as twenty:
        html = reviewer_client.get(QUEUE).content.decode()
    assert len(queue_numbers(html)) == 20
    assert len(twenty) == len(one)


def test_the_queue_offers_no_bulk_actions(reviewer_client, stopped_applicant):
    lodged("甲")
    html = reviewer_client.get(QUEUE).content.decode()
    assert 'name="action"' not in html and "_selected_action" not in html


# The application page ----------------------------------------------------------------------------


def test_the_page_shows_images_inline_and_pdf_pages_as_images_with_size_and_kind(
    reviewer_client, stopped_applicant
):
    application = start(stopped_applicant)
    services.add_withdrawal_material(
        application=application, kind="id_card", uploaded_file=png_upload(), actor=stopped_applicant.user
    )
    services.add_withdrawal_material(
        application=application, kind="settlement_proof", actor=stopped_applicant.user,
        uploaded_file=demo_pdf("定居证明.pdf", "定居证明", ["演示"]),
    )
    application = services.submit_withdrawal(
        application=application, actor=stopped_applicant.user, declaration_accepted=True
    )
    image, pdf = materials_of(application)
    html = reviewer_client.get(change_url(application)).content.decode()
    assert f'{reverse("material_download", args=[image.pk])}?inline=1' in html
    page_url = reverse(
        "admin:withdrawals_withdrawalapplication_material_page", args=[application.pk, pdf.pk, 1]
    )
    assert page_url in html
    assert "出国（境）定居证明" in html and " KB" in html and "字节" not in html
    response = reviewer_client.get(page_url)
    assert response["Content-Type"] == "image/png" and response.content.startswith(b"\x89PNG")
    assert reviewer_client.get(page_url.replace("page-1", "page-2")).status_code == 404


def test_another_regions_clerk_cannot_see_the_pdf_pages(client, other_region_clerk, stopped_applicant):
    application = start(stopped_applicant)
    pdf = services.add_withdrawal_material(
        application=application, kind="settlement_proof", actor=stopped_applicant.user,
        uploaded_file=demo_pdf("定居证明.pdf", "定居证明", ["演示"]),
    )
    grant(other_region_clerk, "view_withdrawalapplication")
    client.force_login(other_region_clerk)
    url = reverse("admin:withdrawals_withdrawalapplication_material_page", args=[application.pk, pdf.pk, 1])
    assert client.get(url).status_code == 404


def test_a_returned_and_replaced_material_is_kept_and_marked(
    reviewer_client, desk_reviewer, stopped_applicant
):
    application = lodged("甲")
    services.return_withdrawal(
        application=application, actor=desk_reviewer, missing_kinds=["id_card"], note=""
    )
    application = refreshed(application)
    services.add_withdrawal_material(
        application=application, kind="id_card", uploaded_file=png_upload("新身份证.png"),
        actor=application.applicant.user,
    )
    old, other, new = materials_of(application)
    assert (old.kind, old.replaced_by_id) == ("id_card", new.pk)
    assert (new.replaced_by_id, other.replaced_by_id) == (None, None)
    services.submit_withdrawal(
        application=application, actor=application.applicant.user, declaration_accepted=True
    )
    html = reviewer_client.get(change_url(application)).content.decode()
    assert html.count("已替换") == 1 and "新身份证.png" not in html.split("已替换")[0][-50:]


def test_a_decision_leads_to_the_next_application_of_the_same_queue(reviewer_client, stopped_applicant):
    first = lodged("甲", due_in_days=1)
    second = lodged("乙", due_in_days=2)
    filters = "status%3Dsubmitted"
    decide = reverse("admin:withdrawals_withdrawalapplication_decide", args=[first.pk, "first-review"])
    response = reviewer_client.post(f"{decide}?_changelist_filters={filters}", {"note": ""})
    assert response.status_code == 302 and "decided=1" in response["Location"]
    page = reviewer_client.get(response["Location"]).content.decode()
    assert "办理下一件" in page
    following = reverse("admin:withdrawals_withdrawalapplication_next", args=[first.pk])
    response = reviewer_client.get(f"{following}?_changelist_filters={filters}")
    assert response["Location"].startswith(change_url(second))
    services.first_review_withdrawal(application=second, actor=User.objects.get(username="reviewer"))
    response = reviewer_client.get(f"{following}?_changelist_filters={filters}")
    assert response["Location"].startswith(QUEUE)


def test_a_bulk_decision_without_confirmation_moves_nothing(
    client, desk_approver, desk_reviewer, stopped_applicant
):
    reviewed = services.first_review_withdrawal(application=lodged("甲"), actor=desk_reviewer)
    balance = personal_account_of(reviewed.holder).balance
    client.force_login(desk_approver)
    for action in ("approve_selected", "confirm_payout_selected", "first_review_selected"):
        client.post(QUEUE, {"action": action, "_selected_action": [reviewed.pk], "index": 0})
    row = refreshed(reviewed)
    assert (row.status, row.amount, row.approval_journal) == (Status.FIRST_REVIEWED, None, None)
    account = personal_account_of(row.holder)
    assert (account.balance, account.status) == (balance, Account.Status.ACTIVE)


# Payment with the bank's words --------------------------------------------------------------------


def test_the_voucher_is_required_to_confirm_a_payment(approved, desk_approver):
    for voucher in ("", "   "):
        with pytest.raises(services.ServiceError) as refused:
            services.confirm_payout_withdrawal(
                application=approved, actor=desk_approver, voucher_number=voucher,
                paid_on=timezone.localdate(),
            )
        assert refused.value.code == "voucher_required"
    row = refreshed(approved)
    assert (row.status, row.payout_journal, row.voucher_number) == (Status.APPROVED, None, "")


def test_a_payment_cannot_be_dated_in_the_future(approved, desk_approver):
    with pytest.raises(services.ServiceError) as refused:
        services.confirm_payout_withdrawal(
            application=approved, actor=desk_approver, voucher_number="B1",
            paid_on=timezone.localdate() + datetime.timedelta(days=1),
        )
    assert refused.value.code == "paid_on_required"


def test_the_voucher_and_the_banks_return_reason_reach_the_citizens_timeline(client, paid, desk_approver):
    assert paid.voucher_number
    services.reverse_payout_withdrawal(application=paid, actor=desk_approver, reason="账户已销户。")
    client.force_login(paid.applicant.user)
    html = client.get(reverse("withdrawals:detail", args=[paid.pk])).content.decode()
    assert f"银行流水号 {paid.voucher_number}" in html
    assert "银行退回：账户已销户" in html and "账户已销户。。" not in html
    notice = paid.applicant.notices.order_by("-id").first()
    assert "账户已销户" in notice.body and "。。" not in notice.body
    assert refreshed(paid).bank_return_reason == "账户已销户。"


def test_a_clerk_is_named_by_name_and_number_in_the_admin(reviewer_client, desk_reviewer, stopped_applicant):
    desk_reviewer.staff_profile.full_name, desk_reviewer.staff_profile.staff_number = "李敏", "NB1024"
    desk_reviewer.staff_profile.save()
    application = services.first_review_withdrawal(application=lodged("甲"), actor=desk_reviewer)
    html = reviewer_client.get(change_url(application)).content.decode()
    assert "李敏（NB1024）" in html
    assert Decimal("500.00") == personal_account_of(application.holder).balance
