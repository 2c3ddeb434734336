"""The sharing desk: bindings scoped to the clerk's regions, counter binding with its promise, ending, held quotas."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import Notice
from accounts.services import freeze_account, personal_account_of, unfreeze_account
from conftest import make_staff
from review.materials import materials_of
from sharing import bindings
from sharing.models import Binding

from .family import *  # noqa: F403

Status = Binding.Status


def png_upload(name="承诺书.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "white").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def admin_url(name, *args):
    return reverse(f"admin:sharing_{name}", args=args)


@pytest.fixture
def desk(client, clerk):
    client.force_login(clerk)
    return client


@pytest.fixture
def dg_desk(client, dg_clerk):
    client.force_login(dg_clerk)
    return client


@pytest.fixture
def cross_province(payer, far_relative):
    """张伟 in 宁波 sharing a quota with his brother insured in 东莞."""
    return bind(payer, far_relative, relation="sibling", way="quota")


# Scope --------------------------------------------------------------------------------------------


def listed(client, **query):
    response = client.get(admin_url("binding_changelist"), query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_a_clerk_sees_the_bindings_of_their_region(desk, direct_binding):
    assert listed(desk) == [direct_binding]


def test_a_clerk_of_another_region_sees_nothing_and_gets_404(dg_desk, direct_binding):
    assert listed(dg_desk) == []
    assert dg_desk.get(admin_url("binding_change", direct_binding.pk)).status_code == 404
    assert dg_desk.get(admin_url("binding_end", direct_binding.pk)).status_code == 404
    assert dg_desk.post(admin_url("binding_end", direct_binding.pk), {"note": "x"}).status_code == 404
    assert refreshed(direct_binding).status == Status.ACTIVE


def test_a_binding_across_regions_is_seen_by_the_clerks_of_both(client, clerk, dg_clerk, cross_province):
    client.force_login(clerk)
    assert listed(client) == [cross_province]
    client.force_login(dg_clerk)
    assert listed(client) == [cross_province]
    assert client.get(admin_url("binding_change", cross_province.pk)).status_code == 200


def test_a_clerk_without_regions_sees_nothing(client, direct_binding):
    nobody = grant(make_staff("nobody"), *CLERK_PERMISSIONS)
    client.force_login(nobody)
    assert listed(client) == []


def test_the_superuser_sees_everything(admin_client, direct_binding, cross_province):
    assert set(listed(admin_client)) == {direct_binding, cross_province}


def test_search_matches_whole_id_numbers_of_either_side_only(desk, direct_binding, payer, child):
    assert listed(desk, q=payer.id_number) == [direct_binding]
    assert listed(desk, q=child.id_number.lower()) == [direct_binding]
    assert listed(desk, q=child.id_number[:10]) == []
    assert listed(desk, q="张小雨") == []
    assert listed(desk, q=direct_binding.number) == [direct_binding]


def test_filters_by_status_way_and_relation(desk, direct_binding, cross_province):
    assert listed(desk, way="quota") == [cross_province]
    assert listed(desk, relation="child") == [direct_binding]
    assert listed(desk, status="ended") == []


def test_the_list_masks_and_the_detail_shows_in_full(desk, funded_quota, payer, child):
    html = desk.get(admin_url("binding_changelist")).content.decode()
    assert payer.masked_id_number in html and payer.id_number not in html
    html = desk.get(admin_url("binding_change", funded_quota.pk)).content.decode()
    assert payer.id_number in html and child.id_number in html and "张小雨" in html
    assert "500.00" in html
    assert "解除共济" in html


def test_bindings_are_never_edited_or_deleted_in_the_admin(desk, direct_binding):
    assert desk.post(admin_url("binding_change", direct_binding.pk), {"status": "ended"}).status_code == 403
    assert desk.post(admin_url("binding_delete", direct_binding.pk), {"post": "yes"}).status_code == 403
    assert refreshed(direct_binding).status == Status.ACTIVE


def test_top_ups_and_premiums_are_listed_read_only_within_the_region(client, clerk, dg_clerk, funded_quota):
    bindings.pay_premium(binding=funded_quota, kind="resident", actor=funded_quota.payer.user)
    client.force_login(clerk)
    for name in ("quotatopup", "premiumpayment"):
        response = client.get(admin_url(f"{name}_changelist"))
        assert len(response.context["cl"].result_list) == 1, name
        assert client.get(admin_url(f"{name}_add")).status_code == 403
    client.force_login(dg_clerk)
    for name in ("quotatopup", "premiumpayment"):
        assert len(client.get(admin_url(f"{name}_changelist")).context["cl"].result_list) == 0


# Counter binding ----------------------------------------------------------------------------------


def counter_form(payer, relative, **overrides):
    data = {
        "payer_id_number": payer.id_number, "relative_name": relative.name, "relative_id_number": relative.id_number,
        "relation": "child", "way": "direct", "material": png_upload(), "signed": "on",
    }
    data.update(overrides)
    return data


def test_a_clerk_binds_at_the_counter_and_keeps_the_signed_promise(desk, clerk, payer, spouse):
    # An adult with a login is bound at once at the counter: the clerk has seen the signed papers.
    form = counter_form(payer, spouse, relation="spouse")
    response = desk.post(admin_url("binding_add"), form)
    binding = Binding.objects.get()
    assert response.status_code == 302 and response["Location"] == admin_url("binding_change", binding.pk)
    assert binding.status == Status.ACTIVE and binding.consent == Binding.Consent.COUNTER
    assert binding.created_by == clerk and binding.promise == str(bindings.COUNTER_PROMISE)
    material = materials_of(binding).get()
    assert material.kind == bindings.COUNTER_MATERIAL_KIND and material.uploaded_by == clerk
    assert Notice.objects.filter(person=spouse, title="家庭共济已生效").exists()
    assert "承诺书.png" in desk.get(admin_url("binding_change", binding.pk)).content.decode()


def test_the_clerk_and_the_payer_may_download_the_promise_and_nobody_else(client, clerk, dg_clerk, payer, child, outsider):
    binding = bindings.bind_at_counter(
        clerk=clerk, payer_id_number=payer.id_number, relative_name=child.name,
        relative_id_number=child.id_number, relation="child", way="direct", uploaded_file=png_upload(),
    )
    address = reverse("material_download", args=[materials_of(binding).get().pk])
    client.force_login(clerk)
    assert client.get(address).status_code == 200
    client.force_login(payer.user)
    response = client.get(address)
    assert response.status_code == 200 and binding.number in response["Content-Disposition"]
    client.force_login(outsider.user)
    assert client.get(address).status_code == 404
    client.force_login(make_staff("dg_no_perm", "441900"))
    assert client.get(address).status_code == 404


def test_a_clerk_cannot_bind_for_a_payer_of_another_region(dg_desk, payer, child):
    html = dg_desk.post(admin_url("binding_add"), counter_form(payer, child)).content.decode()
    assert str(bindings.COUNTER_NOT_FOUND) in html
    assert not Binding.objects.exists()


def test_the_counter_applies_the_same_rules(desk, payer):
    from conftest import make_resident

    father_in_law = make_resident(name="王建国", birth="19600101")
    html = desk.post(admin_url("binding_add"), counter_form(payer, father_in_law, relation="spouse",
                                                           relative_name="王建")).content.decode()
    assert str(bindings.RELATIVE_MISMATCH) in html
    assert not Binding.objects.exists()


def test_a_counter_binding_needs_a_readable_file_and_leaves_nothing_without_one(desk, payer, child):
    bad = SimpleUploadedFile("承诺书.png", b"not an image at all", content_type="image/png")
    html = desk.post(admin_url("binding_add"), counter_form(payer, child, material=bad)).content.decode()
    assert "只能上传 JPG、PNG 图片或 PDF 文件" in html
    assert not Binding.objects.exists()


def test_the_clerk_must_confirm_the_papers_were_signed(desk, payer, child):
    form = counter_form(payer, child)
    del form["signed"]
    html = desk.post(admin_url("binding_add"), form).content.decode()
    assert "请确认已核验证件" in html
    assert not Binding.objects.exists()


def test_counter_binding_needs_its_permission(client, payer, child):
    plain = grant(make_staff("viewer", "330200"), "view_binding")
    client.force_login(plain)
    assert client.get(admin_url("binding_add")).status_code == 403
    assert client.post(admin_url("binding_add"), counter_form(payer, child)).status_code == 403
    with pytest.raises(bindings.ServiceError):
        bindings.bind_at_counter(
            clerk=plain, payer_id_number=payer.id_number, relative_name=child.name,
            relative_id_number=child.id_number, relation="child", way="direct", uploaded_file=png_upload(),
        )


# Ending and held quotas ---------------------------------------------------------------------------


def test_a_clerk_ends_a_binding_with_a_reason(desk, clerk, funded_quota, payer):
    assert "解除原因" in desk.get(admin_url("binding_end", funded_quota.pk)).content.decode()
    html = desk.post(admin_url("binding_end", funded_quota.pk), {"note": ""}).content.decode()
    assert "请填写解除原因" in html
    assert refreshed(funded_quota).status == Status.ACTIVE
    response = desk.post(admin_url("binding_end", funded_quota.pk), {"note": "共济人到窗口申请解除"}, follow=True)
    row = refreshed(funded_quota)
    assert row.status == Status.ENDED and row.end_reason == Binding.EndReason.STAFF and row.ended_by == clerk
    assert balance_of(payer) == Decimal("2000.00")
    assert "已退回共济人的个人账户" in response.content.decode()


def test_ending_needs_its_permission(client, funded_quota):
    plain = grant(make_staff("viewer", "330200"), "view_binding")
    client.force_login(plain)
    assert client.get(admin_url("binding_end", funded_quota.pk)).status_code == 403
    assert "解除共济" not in client.get(admin_url("binding_change", funded_quota.pk)).content.decode()


def test_a_held_quota_is_returned_from_the_desk_once_the_account_is_unfrozen(desk, clerk, funded_quota, payer):
    account = personal_account_of(payer)
    freeze_account(account=account, actor=clerk, reason="司法冻结")
    desk.post(admin_url("binding_end", funded_quota.pk), {"note": "冻结期间解除"})
    assert listed(desk, quota="held") == [funded_quota]
    assert "额度待退回" in desk.get(admin_url("binding_change", funded_quota.pk)).content.decode()

    response = desk.post(admin_url("binding_return_quota", funded_quota.pk), follow=True)
    assert "仍不能入账" in response.content.decode()
    unfreeze_account(account=account, actor=clerk, reason="解除冻结")
    response = desk.post(admin_url("binding_return_quota", funded_quota.pk), follow=True)
    assert "已退回 ¥500.00" in response.content.decode()
    assert balance_of(payer) == Decimal("2000.00")
    assert listed(desk, quota="held") == []


# Masking, names and queries of the money lists ------------------------------------------------------


def test_the_premium_list_masks_the_relatives_name(desk, direct_binding, payer, child):
    bindings.pay_premium(binding=direct_binding, kind="resident", actor=payer.user, now=NOW)
    html = desk.get(admin_url("premiumpayment_changelist")).content.decode()
    assert child.masked_name in html and payer.masked_name in html
    assert child.name not in html and child.id_number not in html


def test_top_ups_and_premiums_are_named_in_chinese_on_the_bindings_page(desk, funded_quota):
    bindings.pay_premium(binding=funded_quota, kind="resident", actor=funded_quota.payer.user, now=NOW)
    html = desk.get(admin_url("binding_change", funded_quota.pk)).content.decode()
    assert "额度划拨 ¥500.00" in html and "代缴2026年居民医保个人缴费" in html
    assert "QuotaTopUp object" not in html and "PremiumPayment object" not in html


def test_the_money_lists_and_the_bindings_page_cost_the_same_however_long(desk, payer, direct_binding):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.services import personal_account_of
    from conftest import fund, make_resident

    fund(personal_account_of(payer), Decimal("5000.00"))  # eight relatives' premiums
    pages = [admin_url("premiumpayment_changelist"), admin_url("binding_change", direct_binding.pk)]

    def add_rows(count):
        for _ in range(count):
            relative = make_resident(name="张某", birth="19700101")
            binding = bind(payer, relative, relation="sibling")
            bindings.pay_premium(binding=binding, kind="resident", actor=payer.user, now=NOW)
            record_payment(direct_binding, "1.00")

    def queries(page):
        desk.get(page)
        with CaptureQueriesContext(connection) as captured:
            assert desk.get(page).status_code == 200
        return len(captured)

    add_rows(1)
    few = [queries(page) for page in pages]
    add_rows(7)
    assert [queries(page) for page in pages] == few


def test_opening_a_binding_records_a_look_at_both_sides(desk, direct_binding, clerk):
    from accounts.models import PersonalDataAccess

    desk.get(admin_url("binding_change", direct_binding.pk))
    rows = PersonalDataAccess.objects.filter(staff=clerk, what="家庭共济绑定详情")
    assert set(rows.values_list("person_id", flat=True)) == {direct_binding.payer_id, direct_binding.relative_id}
