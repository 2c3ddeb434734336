"""Reasons staff keep: local reasons for some regions, switching on and off, and what an open application keeps."""

import pytest
from django.urls import reverse

from accounts.models import Region
from accounts.services import ServiceError, personal_account_of
from review.materials import materials_of
from withdrawals import services
from withdrawals.models import MaterialRequirement, WithdrawalApplication, WithdrawalReason

from .conftest import png_upload, reason, refreshed, start, upload_all

REASONS = reverse("admin:withdrawals_withdrawalreason_changelist")


@pytest.fixture
def offsite_in_dongguan(db):
    """长期异地居住, switched on for 东莞 only, as a local rule."""
    offsite = reason("long_term_offsite")
    offsite.enabled = True
    offsite.save()
    offsite.regions.set([Region.objects.get(code="441900")])
    return offsite


# Regions ------------------------------------------------------------------------------------------


def test_a_reason_naming_no_region_applies_everywhere(db):
    ningbo, dongguan = Region.objects.get(code="330200"), Region.objects.get(code="441900")
    abroad = reason()
    assert abroad.applies_in(ningbo) and abroad.applies_in(dongguan)
    assert WithdrawalReason.objects.offered_in(ningbo).filter(pk=abroad.pk).exists()


def test_a_local_reason_is_offered_only_in_its_regions(offsite_in_dongguan):
    ningbo, dongguan = Region.objects.get(code="330200"), Region.objects.get(code="441900")
    assert list(WithdrawalReason.objects.offered_in(dongguan).filter(code="long_term_offsite")) == [offsite_in_dongguan]
    assert not WithdrawalReason.objects.offered_in(ningbo).filter(code="long_term_offsite").exists()
    assert not WithdrawalReason.objects.offered_in(None).filter(code="long_term_offsite").exists()
    # A reason naming two regions is listed once.
    offsite_in_dongguan.regions.add(ningbo)
    assert WithdrawalReason.objects.offered_in(ningbo).filter(code="long_term_offsite").count() == 1


def test_a_citizen_sees_only_the_reasons_of_his_accounts_region(client, stopped_applicant, outsider, offsite_in_dongguan):
    url = reverse("withdrawals:choose_reason")
    client.force_login(stopped_applicant.user)
    assert "长期异地居住" not in client.get(url).content.decode()
    assert client.get(reverse("withdrawals:start", args=["long_term_offsite"])).status_code == 404
    client.force_login(outsider.user)
    html = client.get(url).content.decode()
    assert "长期异地居住" in html and "出国（境）定居" in html


def test_the_service_refuses_a_reason_of_another_region(stopped_applicant, offsite_in_dongguan):
    with pytest.raises(ServiceError) as caught:
        start(stopped_applicant, code="long_term_offsite")
    assert caught.value.code == "reason_not_here"
    assert "宁波" in caught.value.message
    assert personal_account_of(stopped_applicant).hold == ""


def test_staff_choose_the_regions_of_a_reason_in_the_admin(admin_client, offsite_in_dongguan):
    page = admin_client.get(reverse("admin:withdrawals_withdrawalreason_change", args=[offsite_in_dongguan.pk]))
    html = page.content.decode()
    assert "适用统筹区，留空表示全部统筹区。" in html
    listing = admin_client.get(REASONS).content.decode()
    assert "全部统筹区" in listing and "东莞" in listing


# Switching on and off -----------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "code", "enabled"), [
    ("disable_reasons", "settle_abroad", False), ("enable_reasons", "long_term_offsite", True),
])
def test_switching_a_reason_saves_each_row_with_its_history(admin_client, action, code, enabled):
    chosen = reason(code)
    versions = chosen.history.count()
    response = admin_client.post(REASONS, {"action": action, "_selected_action": [chosen.pk]}, follow=True)
    assert WithdrawalReason.objects.get(pk=chosen.pk).enabled is enabled
    assert chosen.history.count() == versions + 1
    assert chosen.history.first().enabled is enabled
    assert "1 个提取原因" in response.content.decode()


def test_switching_counts_only_the_reasons_that_changed(admin_client):
    both = [reason("settle_abroad").pk, reason("long_term_offsite").pk]
    response = admin_client.post(REASONS, {"action": "disable_reasons", "_selected_action": both}, follow=True)
    assert "已停用 1 个提取原因。" in response.content.decode()


# What an open application keeps -------------------------------------------------------------------


def test_the_materials_asked_for_are_kept_on_the_application(stopped_applicant):
    application = start(stopped_applicant)
    assert refreshed(application).material_kinds == [
        {"code": "id_card", "label": "身份证", "required": True},
        {"code": "settlement_proof", "label": "出国（境）定居证明", "required": True},
    ]


def test_editing_the_reason_later_changes_nothing_for_an_open_application(stopped_applicant):
    application = upload_all(start(stopped_applicant))
    abroad = reason()
    abroad.requirements.filter(code="settlement_proof").delete()
    MaterialRequirement.objects.filter(reason=abroad, code="id_card").update(label="居民身份证正反面")
    MaterialRequirement.objects.create(
        reason=abroad, code="notarised_proof", label="公证书", required=True, sort_order=30
    )

    row = refreshed(application)
    assert services.accepted_kinds(row) == {"id_card": "身份证", "settlement_proof": "出国（境）定居证明"}
    assert services.missing_kinds(row) == {}
    assert {material.kind for material in materials_of(row)} == {"id_card", "settlement_proof"}
    services.submit_withdrawal(application=row, actor=stopped_applicant.user, declaration_accepted=True)
    assert refreshed(application).status == WithdrawalApplication.Status.SUBMITTED
    # A new application asks for what the reason asks for now.
    services.cancel_withdrawal(application=row, actor=stopped_applicant.user)
    assert list(services.accepted_kinds(start(stopped_applicant))) == ["id_card", "notarised_proof"]


def test_the_citizens_files_stay_listed_after_the_reason_drops_their_kind(client, stopped_applicant):
    application = start(stopped_applicant)
    services.add_withdrawal_material(
        application=application, kind="settlement_proof", uploaded_file=png_upload("定居证明.png"),
        actor=stopped_applicant.user,
    )
    reason().requirements.filter(code="settlement_proof").delete()
    client.force_login(stopped_applicant.user)
    html = client.get(reverse("withdrawals:detail", args=[application.pk])).content.decode()
    assert "定居证明.png" in html and "出国（境）定居证明" in html
