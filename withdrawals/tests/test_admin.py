"""The review desk in the admin: the queue, its filters and search, the decisions and the counter."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import ledger
from accounts.models import Account
from accounts.services import personal_account_of
from conftest import make_citizen_user, make_employee
from review.materials import materials_of
from withdrawals import services
from withdrawals.models import AUTHORISATION_KIND, WithdrawalApplication, WithdrawalReason

from .conftest import (
    REVIEWER_PERMISSIONS,
    grant,
    png_upload,
    reason,
    record_death,
    refreshed,
    start,
    stop,
    submitted,
    upload_all,
)

Status = WithdrawalApplication.Status
QUEUE = reverse("admin:withdrawals_withdrawalapplication_changelist")


def change_url(application):
    return reverse("admin:withdrawals_withdrawalapplication_change", args=[application.pk])


def decide_url(application, decision):
    return reverse("admin:withdrawals_withdrawalapplication_decide", args=[application.pk, decision])


def texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def application(stopped_applicant):
    return submitted(stopped_applicant)


# The queue ----------------------------------------------------------------------------------------


def test_the_queue_lists_the_regions_applications_with_the_applicant_masked(reviewer_client, application):
    html = reviewer_client.get(QUEUE).content.decode()
    assert application.number in html
    assert "张*" in html and "330203********" in html
    assert application.applicant.id_number not in html


def test_the_queue_warns_of_a_running_deadline_in_a_year_whose_holidays_nobody_entered(
    reviewer_client, application
):
    from django.utils import timezone

    from review import calendar
    from review.models import Holiday

    today = timezone.localdate()
    years = [year for year in range(today.year + 1, today.year + 3) if not calendar.library_covers(year)]
    assert years, "the holiday library covers the next two years: pick a later one"
    year = years[0]
    WithdrawalApplication.objects.filter(pk=application.pk).update(next_due=datetime.date(year, 1, 15))

    warned = texts(reviewer_client.get(QUEUE))
    assert any(f"{year}年的法定节假日" in text for text in warned)

    Holiday.objects.create(date=datetime.date(year, 1, 1), kind=Holiday.Kind.HOLIDAY, name="元旦")
    with CaptureQueriesContext(connection) as entered:
        assert not any("法定节假日" in text for text in texts(reviewer_client.get(QUEUE)))
    # Known from the holiday rows the list reads anyway: the same queries as for a deadline this year.
    Holiday.objects.all().delete()
    with CaptureQueriesContext(connection) as missing:
        reviewer_client.get(QUEUE)
    WithdrawalApplication.objects.filter(pk=application.pk).update(next_due=today)
    with CaptureQueriesContext(connection) as this_year:
        reviewer_client.get(QUEUE)
    assert len(entered) == len(missing) == len(this_year)


def test_another_regions_clerk_does_not_see_the_application(client, application, other_region_clerk):
    client.force_login(grant(other_region_clerk, *REVIEWER_PERMISSIONS))
    assert application.number not in client.get(QUEUE).content.decode()
    assert client.get(change_url(application)).status_code == 404
    assert client.get(decide_url(application, "first-review")).status_code == 404
    assert client.post(decide_url(application, "first-review"), {"note": ""}).status_code == 404
    assert refreshed(application).status == Status.SUBMITTED


def test_search_finds_by_exact_id_number_or_number_only(reviewer_client, application):
    id_number = application.applicant.id_number
    assert application.number in reviewer_client.get(QUEUE, {"q": id_number}).content.decode()
    assert application.number in reviewer_client.get(QUEUE, {"q": application.number.lower()}).content.decode()
    partial = reviewer_client.get(QUEUE, {"q": id_number[:10]}).content.decode()
    assert f">{application.number}<" not in partial


def test_search_never_compares_id_numbers_with_like(reviewer_client, application):
    with CaptureQueriesContext(connection) as queries:
        reviewer_client.get(QUEUE, {"q": application.applicant.id_number})
    searching = [q["sql"] for q in queries if "id_number" in q["sql"]]
    assert searching
    assert not any("LIKE" in sql.upper() for sql in searching)


def test_the_overdue_filter(reviewer_client, application, stopped_applicant):
    WithdrawalApplication.objects.filter(pk=application.pk).update(
        first_review_due=datetime.date(2020, 1, 2), next_due=datetime.date(2020, 1, 2)
    )
    overdue = reviewer_client.get(QUEUE, {"overdue": "yes"}).content.decode()
    assert application.number in overdue
    assert application.number not in reviewer_client.get(QUEUE, {"overdue": "no"}).content.decode()


def test_the_reason_filter_narrows_the_queue_without_reading_the_applications_for_its_choices(
    reviewer_client, application
):
    other = WithdrawalReason.objects.exclude(pk=application.reason_id).first()
    with CaptureQueriesContext(connection) as queries:
        html = reviewer_client.get(QUEUE).content.decode()
    assert other.name in html and application.reason.name in html
    table = WithdrawalApplication._meta.db_table
    assert not any("DISTINCT" in q["sql"] and table in q["sql"] for q in queries)
    assert application.number in reviewer_client.get(QUEUE, {"reason__id__exact": application.reason_id}).text
    assert application.number not in reviewer_client.get(QUEUE, {"reason__id__exact": other.pk}).text


def test_the_queue_makes_the_same_number_of_queries_for_3_and_20_applications(reviewer_client, desk_reviewer):
    def applications(count):
        for _ in range(count):
            person = make_employee(balance="100.00", name="王五")
            stop(person)
            account = personal_account_of(person)
            WithdrawalApplication.objects.create(
                applicant=person, holder=person, region=account.region, account=account,
                reason=reason(), status=Status.SUBMITTED, bank_name="中国银行",
                bank_account_number="6217000012345678", bank_account_holder=person.name,
                first_review_due=datetime.date(2026, 10, 13), payment_due=datetime.date(2026, 10, 20),
            )

    applications(3)
    with CaptureQueriesContext(connection) as few:
        assert reviewer_client.get(QUEUE).status_code == 200
    applications(17)
    with CaptureQueriesContext(connection) as many:
        response = reviewer_client.get(QUEUE)
    assert response.content.decode().count("王*") == 20
    assert len(many) == len(few)


def test_a_deadline_in_a_year_nobody_entered_is_warned_about(reviewer_client, application):
    WithdrawalApplication.objects.filter(pk=application.pk).update(payment_due=datetime.date(2031, 1, 3))
    response = reviewer_client.get(change_url(application))
    assert any("2031年的法定节假日" in text for text in texts(response))


# The change page ----------------------------------------------------------------------------------


def test_the_reviewer_sees_the_first_review_buttons_and_a_masked_bank_account(reviewer_client, application):
    html = reviewer_client.get(change_url(application)).content.decode()
    for label in ("初审通过", "退回补正", "不予受理"):
        assert decide_url(application, {"初审通过": "first-review", "退回补正": "return",
                                        "不予受理": "refuse"}[label]) in html
    assert decide_url(application, "approve") not in html
    assert "6222021234567890123" not in html
    assert "***************0123" in html


def test_the_approver_sees_the_full_bank_account(approver_client, first_reviewed):
    html = approver_client.get(change_url(first_reviewed)).content.decode()
    assert "6222021234567890123" in html
    assert decide_url(first_reviewed, "approve") in html


# Decisions ----------------------------------------------------------------------------------------


def test_first_review_then_approval_then_payment_through_the_admin(client, application, desk_reviewer, desk_approver):
    client.force_login(desk_reviewer)
    response = client.post(decide_url(application, "first-review"), {"note": "材料齐全"})
    assert response.status_code == 302
    assert refreshed(application).first_reviewer == desk_reviewer

    client.force_login(desk_approver)
    client.post(decide_url(application, "approve"), {"note": ""})
    row = refreshed(application)
    assert (row.status, row.amount, row.approver) == (Status.APPROVED, Decimal("2000.00"), desk_approver)
    assert personal_account_of(row.holder).status == Account.Status.CLOSED

    client.post(decide_url(application, "pay"), {"voucher_number": "", "paid_on": "2026-01-05", "note": ""})
    assert refreshed(application).status == Status.APPROVED

    voucher = {"voucher_number": "B20261124001", "paid_on": "2026-01-05", "note": ""}
    client.post(decide_url(application, "pay"), voucher)
    row = refreshed(application)
    assert (row.status, row.voucher_number, row.paid_on) == (
        Status.PAID, "B20261124001", datetime.date(2026, 1, 5)
    )
    assert row.payout_journal is not None
    assert ledger.audit() == []


def test_the_first_reviewer_is_refused_as_approver_with_an_error_message(client, first_reviewed, desk_reviewer):
    grant(desk_reviewer, "approve_withdrawal")
    client.force_login(desk_reviewer)
    response = client.post(decide_url(first_reviewed, "approve"), {"note": ""})
    assert response.status_code == 200
    assert "复核须由初审以外的人员办理。" in texts(response)
    assert refreshed(first_reviewed).status == Status.FIRST_REVIEWED


def test_a_decision_without_its_permission_is_forbidden(reviewer_client, first_reviewed):
    assert reviewer_client.post(decide_url(first_reviewed, "approve"), {"note": ""}).status_code == 403
    assert refreshed(first_reviewed).status == Status.FIRST_REVIEWED


def test_return_offers_the_material_kinds_as_checkboxes(reviewer_client, application):
    form_page = reviewer_client.get(decide_url(application, "return")).content.decode()
    assert 'type="checkbox"' in form_page and "出国（境）定居证明" in form_page
    reviewer_client.post(
        decide_url(application, "return"), {"missing_kinds": ["id_card", "settlement_proof"], "note": "请补充"}
    )
    row = refreshed(application)
    assert (row.status, row.missing_kinds) == (Status.RETURNED, ["id_card", "settlement_proof"])


def test_refusal_needs_a_reason_in_the_form(reviewer_client, application):
    response = reviewer_client.post(decide_url(application, "refuse"), {"reason": ""})
    assert "请填写不予受理的原因。" in response.content.decode()
    reviewer_client.post(decide_url(application, "refuse"), {"reason": "材料不实"})
    assert refreshed(application).refusal_reason == "材料不实"


def test_bank_return_through_the_admin(approver_client, paid):
    approver_client.post(decide_url(paid, "bank-return"), {"reason": "账户已销户", "note": ""})
    row = refreshed(paid)
    assert (row.status, row.bank_return_reason) == (Status.BANK_RETURNED, "账户已销户")
    assert personal_account_of(row.holder).balance == Decimal("2000.00")


def test_a_bulk_decision_without_confirmation_moves_nothing(client, first_reviewed, desk_approver):
    # Each decision is a judgement on one application's materials: the queue offers no bulk action at all.
    client.force_login(desk_approver)
    before = personal_account_of(first_reviewed.holder).balance
    response = client.post(
        QUEUE, {"action": "approve_selected", "_selected_action": [first_reviewed.pk], "queue": "all"}
    )
    assert response.status_code in (200, 302)
    row = refreshed(first_reviewed)
    assert (row.status, row.approval_journal) == (Status.FIRST_REVIEWED, None)
    assert personal_account_of(row.holder).balance == before
    html = client.get(QUEUE).content.decode()
    assert "approve_selected" not in html and "first_review_selected" not in html


# The counter --------------------------------------------------------------------------------------


def counter_form(person, **overrides):
    data = {
        "applicant_id_number": person.id_number, "reason": reason().pk,
        "bank_name": "农业银行", "bank_account_number": "6228480012345678", "bank_account_holder": person.name,
        "holder_id_number": "", "heir_relation": "", "proxy_name": "", "proxy_id_number": "",
    }
    data.update(overrides)
    return data


def test_a_clerk_opens_for_a_proxy_uploads_the_authorisation_and_submits(reviewer_client, stopped_applicant):
    response = reviewer_client.post(
        reverse("admin:withdrawals_withdrawalapplication_add"),
        counter_form(stopped_applicant, proxy_name="王芳", proxy_id_number="330203198702140028"),
    )
    application = WithdrawalApplication.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(application)
    assert application.counter_clerk is not None
    assert (application.proxy_name, application.proxy_id_number) == ("王芳", "330203198702140028")
    # Several files in one upload, a kind each.
    reviewer_client.post(
        decide_url(application, "upload"),
        {"file_id_card": png_upload(), "file_settlement_proof": png_upload()},
    )
    # With a proxy acting, the proxy's ID card and the authorisation are required: submission waits for them.
    response = reviewer_client.post(decide_url(application, "submit"), {"declaration": "on"})
    assert any("委托书" in text and "代办人身份证" in text for text in texts(response))
    assert refreshed(application).status == Status.DRAFT
    reviewer_client.post(
        decide_url(application, "upload"),
        {f"file_{AUTHORISATION_KIND}": png_upload(), "file_proxy_id_card": png_upload("代办人.png")},
    )
    assert sorted(materials_of(application).values_list("kind", flat=True)) == sorted(
        ["id_card", "settlement_proof", "proxy_id_card", AUTHORISATION_KIND]
    )
    reviewer_client.post(decide_url(application, "submit"), {"declaration": "on"})
    assert refreshed(application).status == Status.SUBMITTED


def test_a_bad_file_in_one_upload_stores_none_of_them(reviewer_client, stopped_applicant):
    add = reverse("admin:withdrawals_withdrawalapplication_add")
    reviewer_client.post(add, counter_form(stopped_applicant))
    application = WithdrawalApplication.objects.get()
    fake = SimpleUploadedFile("证明.png", b"not an image at all", content_type="image/png")
    response = reviewer_client.post(
        decide_url(application, "upload"), {"file_id_card": png_upload(), "file_settlement_proof": fake}
    )
    assert response.status_code == 200
    assert not materials_of(application).exists()


def test_the_counter_looks_the_applicants_name_up_in_the_clerks_regions_only(
    reviewer_client, stopped_applicant, outsider
):
    add = reverse("admin:withdrawals_withdrawalapplication_add")
    html = reviewer_client.get(add, {"lookup": stopped_applicant.id_number}).content.decode()
    assert f"参保登记姓名：<strong>{stopped_applicant.name}</strong>" in html
    assert f'value="{stopped_applicant.id_number}"' in html
    # 陈明 is enrolled in 东莞 only: a 宁波 clerk finds nobody.
    html = reviewer_client.get(add, {"lookup": outsider.id_number}).content.decode()
    assert outsider.name not in html and "本统筹区的参保登记中没有这个身份证号码" in html
    assert "校验位" in reviewer_client.get(add, {"lookup": "330203198501011230"}).content.decode()


def test_the_counter_asks_first_for_the_applicant_then_the_reason_then_the_proxy_then_the_bank(
    reviewer_client, stopped_applicant
):
    html = reviewer_client.get(reverse("admin:withdrawals_withdrawalapplication_add")).content.decode()
    positions = [html.index(f'name="{name}"') for name in (
        "applicant_id_number", "reason", "proxy_name", "proxy_id_number", "bank_name"
    )]
    assert positions == sorted(positions)


def test_the_counter_offers_only_the_reasons_a_citizen_could_choose(reviewer_client, stopped_applicant):
    html = reviewer_client.get(reverse("admin:withdrawals_withdrawalapplication_add")).content.decode()
    assert "出国（境）定居" in html and "长期异地居住" not in html.split('name="reason"')[1].split("</select>")[0]


def test_without_a_proxy_the_counter_takes_no_authorisation(reviewer_client, stopped_applicant):
    reviewer_client.post(reverse("admin:withdrawals_withdrawalapplication_add"), counter_form(stopped_applicant))
    application = WithdrawalApplication.objects.get()
    assert AUTHORISATION_KIND not in services.accepted_kinds(application)
    assert "委托书" not in reviewer_client.get(decide_url(application, "upload")).content.decode()


@pytest.mark.parametrize(
    ("proxy", "error"),
    [
        ({"proxy_name": "王芳", "proxy_id_number": "330203198702140029"}, "校验位"),
        ({"proxy_name": "王芳", "proxy_id_number": ""}, "请填写代办人身份证号码。"),
        ({"proxy_name": "", "proxy_id_number": "330203198702140028"}, "请填写代办人姓名。"),
    ],
)
def test_the_proxys_details_are_checked(reviewer_client, stopped_applicant, proxy, error):
    response = reviewer_client.post(
        reverse("admin:withdrawals_withdrawalapplication_add"), counter_form(stopped_applicant, **proxy)
    )
    assert error in response.content.decode()
    assert not WithdrawalApplication.objects.exists()


def test_the_applicant_is_not_his_own_proxy(reviewer_client, stopped_applicant):
    response = reviewer_client.post(
        reverse("admin:withdrawals_withdrawalapplication_add"),
        counter_form(stopped_applicant, proxy_name="张伟", proxy_id_number=stopped_applicant.id_number),
    )
    assert "不填代办人" in response.content.decode()
    assert not WithdrawalApplication.objects.exists()


def test_a_clerk_learns_nothing_about_a_person_of_another_region(reviewer_client, outsider, stopped_applicant):
    """The 东莞 person's enrolment is active, which a 宁波 clerk must not learn; nor whether he exists."""
    pages = [
        reviewer_client.post(reverse("admin:withdrawals_withdrawalapplication_add"), data).content.decode()
        for data in (
            counter_form(outsider),
            counter_form(outsider, applicant_id_number="110101199003078515"),
        )
    ]
    for html in pages:
        assert str(services.COUNTER_NOT_FOUND) in html
        assert "参保中" not in html
    assert not WithdrawalApplication.objects.exists()


def test_an_heir_at_the_counter_is_checked_against_the_deceased_holders_region(
    reviewer_client, outsider, stopped_applicant
):
    record_death(outsider)
    response = reviewer_client.post(
        reverse("admin:withdrawals_withdrawalapplication_add"),
        counter_form(stopped_applicant, reason=reason("holder_death").pk, holder_id_number=outsider.id_number,
                     heir_relation="sibling"),
    )
    assert str(services.COUNTER_NOT_FOUND) in response.content.decode()
    assert not WithdrawalApplication.objects.exists()


def test_the_counter_refuses_what_the_rules_refuse(reviewer_client, applicant):
    response = reviewer_client.post(
        reverse("admin:withdrawals_withdrawalapplication_add"),
        {
            "applicant_id_number": applicant.id_number, "reason": reason().pk,
            "bank_name": "农业银行", "bank_account_number": "6228480012345678", "bank_account_holder": "张伟",
        },
    )
    assert "职工医保仍在参保中" in response.content.decode()
    assert not WithdrawalApplication.objects.exists()


def test_an_online_application_takes_no_authorisation(reviewer_client, stopped_applicant):
    draft = start(stopped_applicant)
    assert AUTHORISATION_KIND not in services.accepted_kinds(draft)


# Reasons ------------------------------------------------------------------------------------------


def test_staff_edit_a_reasons_materials_inline_and_switch_reasons_off(admin_client):
    abroad = reason()
    page = admin_client.get(reverse("admin:withdrawals_withdrawalreason_change", args=[abroad.pk]))
    assert page.status_code == 200 and "出国（境）定居证明" in page.content.decode()
    admin_client.post(
        reverse("admin:withdrawals_withdrawalreason_changelist"),
        {"action": "disable_reasons", "_selected_action": [abroad.pk]},
    )
    assert not WithdrawalReason.objects.get(pk=abroad.pk).enabled


# Materials ----------------------------------------------------------------------------------------


def test_materials_are_served_to_the_owner_and_the_regions_clerks_only(
    client, application, desk_reviewer, other_region_clerk, outsider
):
    materials = list(materials_of(application))
    assert len(materials) == 2
    grant(other_region_clerk, *REVIEWER_PERMISSIONS)
    for user, expected in (
        (application.applicant.user, 200), (desk_reviewer, 200), (other_region_clerk, 404), (outsider.user, 404),
    ):
        client.force_login(user)
        for material in materials:
            response = client.get(reverse("material_download", args=[material.pk]))
            assert response.status_code == expected, (user, material.kind)
            if expected == 200:
                assert response["X-Content-Type-Options"] == "nosniff"


def test_the_change_page_links_each_material_to_the_checked_download(reviewer_client, application):
    html = reviewer_client.get(change_url(application)).content.decode()
    for material in materials_of(application):
        assert reverse("material_download", args=[material.pk]) in html


def test_the_change_page_names_material_kinds_as_the_reason_does(reviewer_client, application):
    html = reviewer_client.get(change_url(application)).content.decode()
    assert "出国（境）定居证明" in html
    assert ">settlement_proof<" not in html


# What the desk shows ------------------------------------------------------------------------------


def test_the_decision_page_shows_the_deceased_holder_and_the_relation(client, applicant, outsider, desk_reviewer):
    record_death(applicant, datetime.date(2026, 10, 8))
    application = upload_all(start(outsider, code="holder_death", holder=applicant, heir_relation="child"))
    services.submit_withdrawal(application=application, actor=outsider.user, declaration_accepted=True)
    client.force_login(desk_reviewer)
    html = client.get(decide_url(application, "first-review")).content.decode()
    assert "已故参保人" in html and applicant.id_number in html and "2026年10月8日死亡" in html
    assert "申请人与参保人关系" in html and "子女" in html


def test_the_note_says_the_citizen_reads_it(reviewer_client, application):
    html = reviewer_client.get(decide_url(application, "first-review")).content.decode()
    assert "给申请人的说明（申请人可在办理进度中看到）" in html
    response = reviewer_client.post(decide_url(application, "first-review"), {"note": "长" * 201})
    assert "说明最多200字" in response.content.decode()
    assert refreshed(application).status == Status.SUBMITTED


def test_overdue_applications_carry_a_red_text_badge_and_come_first(reviewer_client, application, stopped_applicant):
    later = make_employee(balance="300.00", name="王五")
    make_citizen_user(later)
    stop(later)
    newer = submitted(later)
    WithdrawalApplication.objects.filter(pk=application.pk).update(
        first_review_due=datetime.date(2020, 1, 2), next_due=datetime.date(2020, 1, 2)
    )
    html = reviewer_client.get(QUEUE).content.decode()
    assert html.count('<strong class="overdue-badge">已超期</strong>') == 1
    assert "review/desk" in html and ".css" in html
    # The older application is overdue, so it is listed before the newer one.
    assert html.index(f">{application.number}<") < html.index(f">{newer.number}<")
    assert 'alt="False"' not in html and 'alt="True"' not in html


def test_the_queue_has_no_english_date_drill_down(reviewer_client, application):
    html = reviewer_client.get(QUEUE).content.decode()
    assert "xfull" not in html and "date-hierarchy" not in html.lower()
    assert "Filter by" not in html


def test_the_counter_steps_are_not_offered_on_an_online_application(reviewer_client, stopped_applicant):
    draft = start(stopped_applicant)
    html = reviewer_client.get(change_url(draft)).content.decode()
    for step in ("upload", "submit", "cancel", "bank"):
        assert decide_url(draft, step) not in html
        assert reviewer_client.post(decide_url(draft, step), {}).status_code == 403


def test_the_counter_changes_the_bank_account_of_a_counter_application(reviewer_client, stopped_applicant):
    reviewer_client.post(reverse("admin:withdrawals_withdrawalapplication_add"), counter_form(stopped_applicant))
    application = WithdrawalApplication.objects.get()
    assert decide_url(application, "bank") in reviewer_client.get(change_url(application)).content.decode()
    form_page = reviewer_client.get(decide_url(application, "bank")).content.decode()
    assert "农业银行" in form_page and "6228480012345678" not in form_page
    response = reviewer_client.post(
        decide_url(application, "bank"),
        {"bank_name": "中国银行", "bank_account_number": "6217000012345678", "bank_account_holder": "张伟"},
    )
    assert response.status_code == 302
    assert refreshed(application).bank_account_number == "6217000012345678"


# The personal-data access record -------------------------------------------------------------------


def test_opening_an_application_records_a_look_at_the_applicant(reviewer_client, application, desk_reviewer):
    from accounts.models import PersonalDataAccess

    reviewer_client.get(change_url(application))
    reviewer_client.get(QUEUE)
    [row] = PersonalDataAccess.objects.all()
    assert (row.staff, row.person, row.what, row.reference) == (
        desk_reviewer, application.applicant, "提取申请详情", application.number,
    )


def test_a_second_click_on_a_decision_already_taken_says_so(reviewer_client, application):
    reviewer_client.post(decide_url(application, "first-review"), {"note": ""})
    again = reviewer_client.post(decide_url(application, "first-review"), {"note": ""})
    assert again.status_code == 403
    assert "如果您刚刚点过这个按钮，它已经办理完成" in again.text
    assert "经办业务" in again.text  # the admin's look, not the citizens' pages
