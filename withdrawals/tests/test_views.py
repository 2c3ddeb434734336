"""The citizen's withdrawal pages, as the owner, as another citizen and anonymous."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account
from accounts.services import personal_account_of
from review.materials import materials_of
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import png_upload, record_death, refreshed, start, submitted, upload_all

Status = WithdrawalApplication.Status


@pytest.fixture
def owner(client, stopped_applicant):
    client.force_login(stopped_applicant.user)
    return client


@pytest.fixture
def draft(stopped_applicant):
    return start(stopped_applicant)


def detail_url(application):
    return reverse("withdrawals:detail", args=[application.pk])


def citizen_urls(application):
    return [
        ("get", detail_url(application)),
        ("get", reverse("withdrawals:cancel", args=[application.pk])),
        ("post", reverse("withdrawals:cancel", args=[application.pk])),
        ("post", reverse("withdrawals:submit", args=[application.pk])),
        ("post", reverse("withdrawals:upload", args=[application.pk, "id_card"])),
        ("get", reverse("withdrawals:change_bank", args=[application.pk])),
        ("post", reverse("withdrawals:change_bank", args=[application.pk])),
    ]


# Who sees what ------------------------------------------------------------------------------------


def test_the_owner_sees_the_list_and_the_detail(owner, draft):
    listing = owner.get(reverse("withdrawals:list"))
    assert listing.status_code == 200
    assert draft.number in listing.content.decode()
    page = owner.get(detail_url(draft))
    assert page.status_code == 200
    html = page.content.decode()
    assert "出国（境）定居" in html and "草稿" in html
    assert "6222021234567890123" not in html and "0123" in html


def test_another_citizen_gets_404_on_every_page_of_the_application(client, draft, outsider):
    client.force_login(outsider.user)
    for method, url in citizen_urls(draft):
        assert getattr(client, method)(url).status_code == 404, url
    assert draft.number not in client.get(reverse("withdrawals:list")).content.decode()
    assert refreshed(draft).status == Status.DRAFT


@pytest.mark.parametrize("name", ["withdrawals:list", "withdrawals:choose_reason"])
def test_anonymous_visitors_are_sent_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_visitors_cannot_open_an_application(client, draft):
    for method, url in citizen_urls(draft):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_staff_without_a_person_are_told_the_pages_are_for_citizens(client, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("withdrawals:list")).status_code == 403


def test_the_list_makes_the_same_number_of_queries_for_many_applications(owner, stopped_applicant):
    def cancelled_applications(count):
        for _ in range(count):
            services.cancel_withdrawal(application=start(stopped_applicant), actor=stopped_applicant.user)

    cancelled_applications(1)
    with CaptureQueriesContext(connection) as few:
        owner.get(reverse("withdrawals:list"))
    cancelled_applications(6)
    with CaptureQueriesContext(connection) as many:
        response = owner.get(reverse("withdrawals:list"))
    assert response.content.decode().count("已撤销") == 7
    assert len(many) == len(few)


# Starting -----------------------------------------------------------------------------------------


def test_choosing_a_reason_shows_only_enabled_reasons_and_their_materials(owner):
    html = owner.get(reverse("withdrawals:choose_reason")).content.decode()
    assert "出国（境）定居证明" in html and "继承关系证明" in html
    assert "长期异地居住" not in html
    assert "重大疾病" not in html


def test_a_disabled_reason_cannot_be_opened(owner):
    assert owner.get(reverse("withdrawals:start", args=["long_term_offsite"])).status_code == 404


def test_the_form_creates_a_draft(owner, stopped_applicant):
    response = owner.post(
        reverse("withdrawals:start", args=["settle_abroad"]),
        {"bank_name": "中国银行", "bank_account_number": "6217 0000 1234 5678", "bank_account_holder": "张伟"},
    )
    application = WithdrawalApplication.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(application)
    assert application.bank_account_number == "6217000012345678"
    assert application.applicant == stopped_applicant


def test_format_errors_are_shown_in_chinese_beside_the_field(owner):
    response = owner.post(
        reverse("withdrawals:start", args=["settle_abroad"]),
        {"bank_name": "", "bank_account_number": "12ab", "bank_account_holder": "张伟"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "请填写开户银行。" in html and "银行账号应为8至32位数字。" in html
    assert not WithdrawalApplication.objects.exists()


def test_a_refusal_from_the_rules_is_shown_on_the_form(client, applicant):
    client.force_login(applicant.user)
    response = client.post(
        reverse("withdrawals:start", args=["settle_abroad"]),
        {"bank_name": "中国银行", "bank_account_number": "6217000012345678", "bank_account_holder": "张伟"},
    )
    assert "职工医保仍在参保中" in response.content.decode()
    assert not WithdrawalApplication.objects.exists()


def test_an_heir_applies_naming_the_deceased(client, applicant, outsider):
    record_death(applicant)
    client.force_login(outsider.user)
    form_page = client.get(reverse("withdrawals:start", args=["holder_death"])).content.decode()
    assert "已故参保人身份证号码" in form_page
    response = client.post(
        reverse("withdrawals:start", args=["holder_death"]),
        {
            "holder_name": applicant.name, "holder_id_number": applicant.id_number, "heir_relation": "child",
            "bank_name": "中国银行", "bank_account_number": "6217000012345678", "bank_account_holder": "陈明",
        },
    )
    assert response.status_code == 302
    application = WithdrawalApplication.objects.get()
    assert (application.holder, application.applicant) == (applicant, outsider)


def test_an_heir_naming_someone_not_in_the_registry_is_told_so(client, applicant, outsider):
    client.force_login(outsider.user)
    response = client.post(
        reverse("withdrawals:start", args=["holder_death"]),
        {
            "holder_name": "某某", "holder_id_number": applicant.id_number, "heir_relation": "child",
            "bank_name": "中国银行", "bank_account_number": "6217000012345678", "bank_account_holder": "陈明",
        },
    )
    assert str(services.HEIR_LOOKUP_REFUSAL) in response.content.decode()
    assert not WithdrawalApplication.objects.exists()


# Materials, submission, cancelling ----------------------------------------------------------------


def test_uploading_a_file_for_a_kind(owner, draft):
    response = owner.post(reverse("withdrawals:upload", args=[draft.pk, "id_card"]), {"id_card-file": png_upload()})
    assert response.status_code == 302
    (material,) = materials_of(draft)
    assert material.kind == "id_card"
    assert "身份证.png" in owner.get(detail_url(draft)).content.decode()


def test_a_bad_file_is_refused_next_to_its_field(owner, draft):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = owner.post(
        reverse("withdrawals:upload", args=[draft.pk, "settlement_proof"]),
        {"settlement_proof-file": SimpleUploadedFile("x.png", b"not really a picture")},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "只能上传 JPG、PNG 图片或 PDF 文件" in html
    assert 'id="id_settlement_proof-file"' in html
    assert not materials_of(draft).exists()


def test_an_unknown_kind_answers_404(owner, draft):
    response = owner.post(reverse("withdrawals:upload", args=[draft.pk, "passport"]), {"passport-file": png_upload()})
    assert response.status_code == 404


def test_removing_a_file(owner, draft, stopped_applicant):
    material = services.add_withdrawal_material(
        application=draft, kind="id_card", uploaded_file=png_upload(), actor=stopped_applicant.user
    )
    response = owner.post(reverse("withdrawals:remove_material", args=[draft.pk, material.pk]))
    assert response.status_code == 302
    assert not materials_of(draft).exists()


def test_the_page_says_what_is_missing_and_offers_no_submit_until_complete(owner, draft):
    html = owner.get(detail_url(draft)).content.decode()
    assert "还缺少：身份证、出国（境）定居证明" in html
    assert reverse("withdrawals:submit", args=[draft.pk]) not in html
    assert "属于违法行为" in html


def test_the_declaration_is_shown_and_required_before_submission(owner, draft):
    upload_all(draft)
    html = owner.get(detail_url(draft)).content.decode()
    assert "我承诺所提交材料真实有效，如有虚假，愿承担法律责任" in html
    assert "违法" in html
    response = owner.post(reverse("withdrawals:submit", args=[draft.pk]), {})
    assert "请先阅读并勾选承诺" in response.content.decode()
    assert refreshed(draft).status == Status.DRAFT


def test_submitting_a_complete_draft(owner, draft):
    upload_all(draft)
    response = owner.post(reverse("withdrawals:submit", args=[draft.pk]), {"declaration": "on"})
    assert response.status_code == 302
    assert refreshed(draft).status == Status.SUBMITTED
    html = owner.get(detail_url(draft)).content.decode()
    assert "已提交（待受理）" in html
    # Both steps still to come show their due dates on the timeline.
    application = refreshed(draft)
    assert f"初审期限：<time datetime=\"{application.first_review_due:%Y-%m-%d}\"" in html
    assert f"到账期限：<time datetime=\"{application.payment_due:%Y-%m-%d}\"" in html


def test_cancelling_asks_for_confirmation_first(owner, draft):
    confirm = owner.get(reverse("withdrawals:cancel", args=[draft.pk]))
    assert "确认撤销" in confirm.content.decode()
    assert refreshed(draft).status == Status.DRAFT
    owner.post(reverse("withdrawals:cancel", args=[draft.pk]))
    assert refreshed(draft).status == Status.CANCELLED
    assert personal_account_of(draft.holder).hold == Account.Hold.NONE


def test_a_returned_application_shows_the_return_and_can_be_resubmitted(owner, stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    services.return_withdrawal(
        application=application, actor=desk_reviewer, missing_kinds=["settlement_proof"], note="请提供公证件。"
    )
    html = owner.get(detail_url(application)).content.decode()
    assert "需要补正" in html and "出国（境）定居证明" in html and "请提供公证件。" in html
    assert "重新提交" in html
    owner.post(reverse("withdrawals:upload", args=[application.pk, "settlement_proof"]),
               {"settlement_proof-file": png_upload("公证件.png")})
    owner.post(reverse("withdrawals:submit", args=[application.pk]), {"declaration": "on"})
    assert refreshed(application).status == Status.SUBMITTED


def test_the_timeline_shows_each_step(owner, stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    services.first_review_withdrawal(application=application, actor=desk_reviewer)
    html = owner.get(detail_url(application)).content.decode()
    assert "办理进度" in html
    assert html.index("草稿") < html.index("已提交（待受理）") < html.rindex("初审通过（待复核）")


def test_another_citizen_gets_404_on_removing_a_file(client, draft, stopped_applicant, outsider):
    material = services.add_withdrawal_material(
        application=draft, kind="id_card", uploaded_file=png_upload(), actor=stopped_applicant.user
    )
    client.force_login(outsider.user)
    response = client.post(reverse("withdrawals:remove_material", args=[draft.pk, material.pk]))
    assert response.status_code == 404
    assert materials_of(draft).count() == 1


def test_a_returned_page_lists_what_to_replace_and_offers_no_submit_until_replaced(
    owner, stopped_applicant, desk_reviewer
):
    application = submitted(stopped_applicant)
    services.return_withdrawal(
        application=application, actor=desk_reviewer, missing_kinds=["settlement_proof"], note="须经公证"
    )
    html = owner.get(detail_url(application)).content.decode()
    assert "待重新上传" in html
    assert "还缺少：出国（境）定居证明" in html
    assert "材料已齐全" not in html
    assert reverse("withdrawals:submit", args=[application.pk]) not in html
    response = owner.post(reverse("withdrawals:submit", args=[application.pk]), {"declaration": "on"})
    assert "还缺少：出国（境）定居证明" in response.content.decode()
    assert refreshed(application).status == Status.RETURNED

    owner.post(reverse("withdrawals:upload", args=[application.pk, "settlement_proof"]),
               {"settlement_proof-file": png_upload("公证件.png")})
    html = owner.get(detail_url(application)).content.decode()
    assert "已重新上传" in html and "材料已齐全" in html
    assert reverse("withdrawals:submit", args=[application.pk]) in html


# Bank details -------------------------------------------------------------------------------------


def test_the_owner_changes_the_bank_account_on_its_page(owner, draft):
    url = reverse("withdrawals:change_bank", args=[draft.pk])
    assert url in owner.get(detail_url(draft)).content.decode()
    form_page = owner.get(url).content.decode()
    assert "6222021234567890123" in form_page
    response = owner.post(
        url, {"bank_name": "中国银行", "bank_account_number": "6217 0000 1234 5678", "bank_account_holder": "张伟"}
    )
    assert response.status_code == 302 and response["Location"] == detail_url(draft)
    row = refreshed(draft)
    assert (row.bank_name, row.bank_account_number) == ("中国银行", "6217000012345678")


def test_the_bank_page_refuses_an_account_in_another_name(owner, draft):
    response = owner.post(
        reverse("withdrawals:change_bank", args=[draft.pk]),
        {"bank_name": "中国银行", "bank_account_number": "6217000012345678", "bank_account_holder": "王芳"},
    )
    assert "户名应为“张伟”" in response.content.decode()
    assert refreshed(draft).bank_account_number == "6222021234567890123"


def test_the_bank_page_is_closed_after_submission(owner, stopped_applicant):
    application = submitted(stopped_applicant)
    assert reverse("withdrawals:change_bank", args=[application.pk]) not in owner.get(
        detail_url(application)).content.decode()
    assert "收款账户已不能修改" in owner.get(reverse("withdrawals:change_bank", args=[application.pk])).content.decode()


def test_another_citizen_gets_404_on_the_bank_page(client, draft, outsider):
    client.force_login(outsider.user)
    url = reverse("withdrawals:change_bank", args=[draft.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"bank_name": "x", "bank_account_number": "6217000012345678",
                             "bank_account_holder": "陈明"}).status_code == 404
    assert refreshed(draft).bank_account_number == "6222021234567890123"
