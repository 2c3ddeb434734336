"""A day's withdrawals on the demo desks: 16 applications in every state, some overdue, in 宁波 and 东莞.

The applicants are demo citizens without a login, served at the counter; every step goes through the
services, as a clerk would take it. Only the dates of a few are moved back afterwards, so that some are
overdue: demo data, written like a migration.
"""

import datetime

from django.utils import timezone

from accounts.demo import demo_citizen, demo_id_number
from accounts.models import User
from review.calendar import add_working_days
from review.demo_files import demo_image, demo_pdf

from . import services
from .models import WithdrawalApplication, WithdrawalReason

Status = WithdrawalApplication.Status
NINGBO, DONGGUAN = "330200", "441900"

# (name, region, balance, reason, state it is brought to, working days overdue or None)
DESK = [
    ("周建国", NINGBO, "3260.40", "settle_abroad", Status.SUBMITTED, 2),
    ("吴丽华", NINGBO, "1845.00", "give_up_employee", Status.SUBMITTED, None),
    ("郑志强", NINGBO, "960.75", "settle_abroad", Status.SUBMITTED, None),
    ("孙海燕", NINGBO, "4120.00", "give_up_employee", Status.SUBMITTED, 1),
    ("胡晓东", NINGBO, "2380.60", "cross_province_refused", Status.SUBMITTED, None),
    ("林秀梅", NINGBO, "1510.20", "give_up_employee", Status.FIRST_REVIEWED, None),
    ("何伟民", NINGBO, "5200.00", "settle_abroad", Status.FIRST_REVIEWED, 3),
    ("高玉兰", NINGBO, "730.90", "give_up_employee", Status.APPROVED, None),
    ("罗文斌", NINGBO, "2890.00", "settle_abroad", Status.PAID, None),
    ("梁淑芬", NINGBO, "1160.30", "give_up_employee", Status.RETURNED, None),
    ("宋立新", NINGBO, "640.00", "give_up_employee", Status.REFUSED, None),
    ("谢春花", NINGBO, "980.00", "settle_abroad", Status.DRAFT, None),
    ("韩国庆", DONGGUAN, "2210.50", "give_up_employee", Status.SUBMITTED, 1),
    ("唐慧敏", DONGGUAN, "1390.00", "settle_abroad", Status.SUBMITTED, None),
    ("冯志远", DONGGUAN, "870.25", "give_up_employee", Status.RETURNED, None),
    ("曹美玲", DONGGUAN, "3050.00", "give_up_employee", Status.REFUSED, None),
]
CLERKS = {NINGBO: ("reviewer_nb", "approver_nb"), DONGGUAN: ("reviewer_dg", None)}


def seed():
    """Put the demo withdrawals on the desks (once); return how many were new."""
    made = 0
    for index, row in enumerate(DESK, start=1):
        name, region_code, balance, reason_code, state, overdue = row
        born = datetime.date(1968 + index, index % 12 + 1, 10 + index)
        id_number = demo_id_number(region_code, born, 500 + index)
        person = demo_citizen(
            name=name, id_number=id_number, region_code=region_code, balance=balance, stopped=True
        )
        if WithdrawalApplication.objects.filter(applicant=person).exists():
            continue
        bring_to(person, region_code, reason_code, state)
        if overdue:
            make_overdue(WithdrawalApplication.objects.get(applicant=person), overdue)
        made += 1
    return made


def bring_to(person, region_code, reason_code, state):
    reviewer_name, approver_name = CLERKS[region_code]
    reviewer = User.objects.get(username=reviewer_name)
    reason = WithdrawalReason.objects.get(code=reason_code)
    application = services.start_counter_withdrawal(
        clerk=reviewer, reason=reason, applicant_id_number=person.id_number, bank_name="中国建设银行",
        bank_account_number=f"6217{person.id_number[6:18]}", bank_account_holder=person.name,
    )
    for kind in application.material_kinds:
        upload = (
            demo_pdf(f"{kind['label']}.pdf", kind["label"], [f"姓名：{person.name}", "（演示材料）"])
            if kind["code"] != "id_card" else demo_image("身份证.png")
        )
        services.add_withdrawal_material(
            application=application, kind=kind["code"], uploaded_file=upload, actor=reviewer
        )
    if state == Status.DRAFT:
        return
    services.submit_withdrawal(application=application, actor=reviewer, declaration_accepted=True)
    if state == Status.RETURNED:
        services.return_withdrawal(
            application=application, actor=reviewer, missing_kinds=[application.material_kinds[-1]["code"]],
            note="证明上的日期看不清，请重新扫描。",
        )
        return
    if state == Status.REFUSED:
        services.refuse_withdrawal(application=application, actor=reviewer, reason="职工医保仍在参保中，不符合提取条件。")
        return
    if state == Status.SUBMITTED:
        return
    services.first_review_withdrawal(application=application, actor=reviewer, note="材料齐全")
    if state == Status.FIRST_REVIEWED:
        return
    approver = User.objects.get(username=approver_name)
    services.approve_withdrawal(application=application, actor=approver)
    if state == Status.PAID:
        services.confirm_payout_withdrawal(
            application=application, actor=approver, voucher_number=f"CCB{person.id_number[-8:]}",
            paid_on=timezone.localdate(),
        )


def make_overdue(application, days):
    """Move the application's dates back so that its running deadline passed `days` working days ago."""
    today = timezone.localdate()
    waiting_for_payment = application.status != Status.SUBMITTED
    started = today - datetime.timedelta(days=7 + 2 * days + (5 if waiting_for_payment else 0))
    first_review_due = add_working_days(started, 5)
    payment_due = add_working_days(started, 10)
    if application.status == Status.SUBMITTED:
        first_review_due = today - datetime.timedelta(days=days)
    else:
        payment_due = today - datetime.timedelta(days=days)
    next_due = first_review_due if application.status == Status.SUBMITTED else payment_due
    WithdrawalApplication.objects.filter(pk=application.pk).update(
        clock_started_on=started, first_review_due=first_review_due, payment_due=payment_due,
        next_due=next_due,
    )
