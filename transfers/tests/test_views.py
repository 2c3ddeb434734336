"""The citizen's transfer pages, as the owner, as another citizen, as staff and anonymous."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import make_citizen_user, make_employee, region
from review.materials import materials_of
from transfers import services
from transfers.models import TransferApplication

from .conftest import DONGGUAN, NINGBO, apply, move, png_upload, refreshed

pytestmark = pytest.mark.django_db

Status = TransferApplication.Status


@pytest.fixture
def owner(client, moving):
    client.force_login(moving.user)
    return client


@pytest.fixture
def returned(submitted, nb_clerk):
    return services.return_transfer(
        application=submitted, actor=nb_clerk, note="图片不清晰", replace_id_card=True
    )


def detail_url(application):
    return reverse("transfers:detail", args=[application.pk])


def application_urls(application):
    pk = application.pk
    return [
        ("get", detail_url(application)),
        ("get", reverse("transfers:cancel", args=[pk])),
        ("post", reverse("transfers:cancel", args=[pk])),
        ("post", reverse("transfers:resubmit", args=[pk])),
        ("post", reverse("transfers:replace_id_card", args=[pk])),
        ("get", reverse("transfers:record", args=[pk])),
        ("get", reverse("transfers:record_pdf", args=[pk])),
    ]


def form_data(**overrides):
    data = {
        "old_region": region(DONGGUAN).pk,
        "new_region": region(NINGBO).pk,
        "reason": "work", "reason_note": "", "declaration": "on", "id_card": png_upload(),
    }
    data.update(overrides)
    return data


# Who sees what -----------------------------------------------------------------------------------


def test_the_owner_sees_the_list_and_the_detail(owner, submitted):
    listing = owner.get(reverse("transfers:list"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert submitted.number in html and "东莞市 → 宁波市" in html
    page = owner.get(detail_url(submitted)).content.decode()
    assert "已提交（待转入地受理）" in page and "工作调动" in page
    (material,) = materials_of(submitted)
    assert reverse("material_download", args=[material.pk]) in page
    assert reverse("transfers:cancel", args=[submitted.pk]) in page


def test_another_citizen_gets_404_on_every_page_of_the_application(client, completed, applicant):
    client.force_login(applicant.user)
    for method, url in application_urls(completed):
        assert getattr(client, method)(url).status_code == 404, url


def test_anonymous_is_sent_to_login_everywhere(client, submitted):
    pages = [("get", reverse("transfers:list")), ("get", reverse("transfers:apply"))]
    for method, url in pages + application_urls(submitted):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_staff_are_told_the_pages_are_for_citizens(client, submitted, nb_clerk):
    client.force_login(nb_clerk)
    assert client.get(reverse("transfers:list")).status_code == 403
    assert client.get(detail_url(submitted)).status_code == 403


def test_the_list_takes_the_same_queries_however_many_transfers(owner, moving, django_assert_num_queries):
    def add_cancelled(count):
        for _n in range(count):
            application = apply(moving)
            services.cancel_transfer(application=application, actor=moving.user)

    add_cancelled(1)
    with CaptureQueriesContext(connection) as one:
        owner.get(reverse("transfers:list"))
    add_cancelled(4)
    with django_assert_num_queries(len(one.captured_queries)):
        assert owner.get(reverse("transfers:list")).content.decode().count("已撤销") == 5


# Applying ----------------------------------------------------------------------------------------


def test_the_form_suggests_the_regions_from_the_registry(owner, moving):
    html = owner.get(reverse("transfers:apply")).content.decode()
    assert "目前还不能申请" not in html
    assert 'selected>东莞市（441900）' in html and 'selected>宁波市（330200）' in html


def test_the_form_says_up_front_why_a_transfer_is_not_possible_yet(client, outsider):
    client.force_login(outsider.user)
    html = client.get(reverse("transfers:apply")).content.decode()
    assert "目前还不能申请" in html and "已停保" in html


def test_applying_creates_the_transfer_and_shows_it(owner, moving):
    response = owner.post(reverse("transfers:apply"), form_data())
    application = TransferApplication.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(application)
    assert (application.status, application.applicant) == (Status.SUBMITTED, moving)
    assert application.region.code == NINGBO
    assert materials_of(application).count() == 1


def test_a_refused_application_shows_the_reason_and_creates_nothing(client, outsider):
    client.force_login(outsider.user)
    response = client.post(reverse("transfers:apply"), form_data())
    assert response.status_code == 200
    assert "仍在参保中" in response.content.decode()
    assert not TransferApplication.objects.exists()


def test_the_form_asks_for_the_photo_the_declaration_and_a_note_for_other_reasons(owner, moving):
    response = owner.post(reverse("transfers:apply"), form_data(id_card="", declaration="", reason="other"))
    html = response.content.decode()
    assert "请上传身份证图片" in html and "请先阅读并勾选承诺" in html and "请简要说明转移原因" in html
    assert not TransferApplication.objects.exists()


# After applying ----------------------------------------------------------------------------------


def test_the_owner_cancels_before_acceptance(owner, submitted):
    assert "确定要撤销申请" in owner.get(reverse("transfers:cancel", args=[submitted.pk])).content.decode()
    owner.post(reverse("transfers:cancel", args=[submitted.pk]))
    assert refreshed(submitted).status == Status.CANCELLED


def test_a_returned_application_shows_what_to_correct_and_takes_a_new_photo(owner, returned):
    html = owner.get(detail_url(returned)).content.decode()
    assert "需要补正" in html and "图片不清晰" in html and "待重新上传" in html
    response = owner.post(
        reverse("transfers:resubmit", args=[returned.pk]), {"reason": "work", "declaration": "on"}
    )
    assert "请先上传新的图片" in response.content.decode()
    new_photo = {"id_card": png_upload("新身份证.png")}
    owner.post(reverse("transfers:replace_id_card", args=[returned.pk]), new_photo)
    assert [m.original_name for m in materials_of(returned).filter(replaced_by__isnull=True)] == ["新身份证.png"]
    assert "新身份证.png" in owner.get(detail_url(returned)).content.decode()
    response = owner.post(
        reverse("transfers:resubmit", args=[returned.pk]), {"reason": "residence", "declaration": "on"}
    )
    assert response.status_code == 302
    assert (refreshed(returned).status, refreshed(returned).reason) == (Status.SUBMITTED, "residence")


def test_a_bad_photo_is_refused_with_the_reason(owner, returned):
    response = owner.post(
        reverse("transfers:replace_id_card", args=[returned.pk]),
        {"id_card": SimpleUploadedFile("x.png", b"text", content_type="image/png")},
    )
    assert "只能上传 JPG、PNG 图片或 PDF 文件" in response.content.decode()


def test_the_detail_page_links_the_record_once_transferred_out(owner, accepted, dg_clerk):
    record_url = reverse("transfers:record", args=[accepted.pk])
    assert record_url not in owner.get(detail_url(accepted)).content.decode()
    services.transfer_out(application=accepted, actor=dg_clerk)
    html = owner.get(detail_url(accepted)).content.decode()
    assert reverse("transfers:record", args=[accepted.pk]) in html and "¥1,500.00" in html


# The record --------------------------------------------------------------------------------------


def test_the_record_page_shows_the_information_form_with_a_print_stylesheet(owner, completed, moving):
    response = owner.get(reverse("transfers:record", args=[completed.pk]))
    html = response.content.decode()
    assert "参保人员基本医疗保险信息表" in html
    # The record is not the profile page: the ID number is masked there too.
    assert moving.masked_id_number in html and moving.id_number not in html
    assert "¥1,500.00" in html and "120个月（10年）" in html
    # The print button is handled by the portal's own script, which every page loads.
    assert "review/paper.css" in html and "js/portal.js" in html
    assert "style=" not in html and "<script>" not in html


def test_the_record_pdf_is_a_pdf_download(owner, completed):
    response = owner.get(reverse("transfers:record_pdf", args=[completed.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="transfer-record-{completed.number}.pdf"'
    assert {"no-store", "private"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    assert response.content.startswith(b"%PDF-") and b"STSong-Light" in response.content


def test_before_transfer_out_there_is_no_record_yet(owner, accepted):
    html = owner.get(reverse("transfers:record", args=[accepted.pk])).content.decode()
    assert "转出地办理转出后才会出具" in html
    assert owner.get(reverse("transfers:record_pdf", args=[accepted.pk])).status_code == 404


def test_a_third_party_sees_no_record_even_with_a_record_of_their_own(client, completed):
    other = move(make_employee(balance="10.00", region_code=DONGGUAN, name="孙七"))
    make_citizen_user(other)
    client.force_login(other.user)
    assert client.get(reverse("transfers:record_pdf", args=[completed.pk])).status_code == 404
