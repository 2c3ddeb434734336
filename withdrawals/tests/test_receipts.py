"""The withdrawal's receipts: a 受理回执 once lodged, a 办结凭证 once it ends; both mask the ID number."""

import re

import pytest
from django.urls import reverse

from accounts.models import PersonalDataAccess
from withdrawals import services

from .conftest import grant, start, submitted


def receipt_url(application, kind, pdf=False):
    return reverse("withdrawals:receipt_pdf" if pdf else "withdrawals:receipt", args=[application.pk, kind])


def admin_receipt_url(application, kind):
    return reverse("admin:withdrawals_withdrawalapplication_receipt", args=[application.pk, kind])


@pytest.fixture
def lodged(stopped_applicant):
    return submitted(stopped_applicant)


def test_the_citizen_prints_the_lodging_receipt_from_the_application_page(client, lodged):
    client.force_login(lodged.applicant.user)
    detail = client.get(reverse("withdrawals:detail", args=[lodged.pk])).content.decode()
    assert receipt_url(lodged, "lodged") in detail and receipt_url(lodged, "ended") not in detail
    html = client.get(receipt_url(lodged, "lodged")).content.decode()
    assert "<title>受理回执" in html and "<h1 id=\"paper-title\">受理回执</h1>" in html
    assert lodged.number in html and "宁波市医疗保障局" in html
    due = lodged.first_review_due
    assert f"{due.year}年{due.month}月{due.day}日" in html
    pdf = client.get(receipt_url(lodged, "lodged", pdf=True))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_receipts_mask_the_id_number_and_carry_no_birth_date(client, paid):
    client.force_login(paid.applicant.user)
    id_number = paid.applicant.id_number
    birth = id_number[6:14]
    for kind in ("lodged", "ended"):
        html = client.get(receipt_url(paid, kind)).content.decode()
        assert f"{id_number[:6]}********{id_number[-4:]}" in html
        assert id_number not in html and birth not in html
        assert f"{int(birth[:4])}年{int(birth[4:6])}月{int(birth[6:])}日" not in html
        assert not re.search(r"\d+岁|出生", html)


def test_the_completion_voucher_names_the_payment(client, paid):
    client.force_login(paid.applicant.user)
    html = client.get(receipt_url(paid, "ended")).content.decode()
    assert "办结凭证" in html and "已到账" in html and paid.voucher_number in html and "¥2,000.00" in html


def test_no_receipt_for_a_draft_and_no_completion_voucher_before_the_end(client, stopped_applicant):
    draft = start(stopped_applicant)
    client.force_login(stopped_applicant.user)
    assert client.get(receipt_url(draft, "lodged")).status_code == 404
    services.cancel_withdrawal(application=draft, actor=stopped_applicant.user)
    # Cancelled as a draft: it was never lodged, so it has neither paper.
    assert client.get(receipt_url(draft, "ended")).status_code == 404


def test_the_completion_voucher_is_not_there_while_the_application_runs(client, lodged):
    client.force_login(lodged.applicant.user)
    assert client.get(receipt_url(lodged, "ended")).status_code == 404
    assert client.get(receipt_url(lodged, "something")).status_code == 404


def test_another_citizen_gets_404(client, lodged, outsider):
    client.force_login(outsider.user)
    assert client.get(receipt_url(lodged, "lodged")).status_code == 404
    assert client.get(receipt_url(lodged, "lodged", pdf=True)).status_code == 404


def test_the_clerk_prints_the_receipts_from_the_admin(reviewer_client, lodged):
    html = reviewer_client.get(
        reverse("admin:withdrawals_withdrawalapplication_change", args=[lodged.pk])
    ).content.decode()
    assert admin_receipt_url(lodged, "lodged") in html
    response = reviewer_client.get(admin_receipt_url(lodged, "lodged"))
    assert response.content.startswith(b"%PDF")
    assert PersonalDataAccess.objects.filter(what="受理回执（PDF）", reference=lodged.number).exists()
    assert reviewer_client.get(admin_receipt_url(lodged, "ended")).status_code == 404


def test_another_regions_clerk_cannot_print_the_receipt(client, lodged, other_region_clerk):
    grant(other_region_clerk, "view_withdrawalapplication")
    client.force_login(other_region_clerk)
    assert client.get(admin_receipt_url(lodged, "lodged")).status_code == 404
