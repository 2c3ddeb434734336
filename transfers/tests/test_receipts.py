"""The transfer's receipts: a 受理回执 once lodged and a 办结凭证 once completed, each page and PDF."""

from django.urls import reverse

from conftest import make_citizen_user, make_employee



def receipt_url(application, kind, pdf=False):
    return reverse("transfers:receipt_pdf" if pdf else "transfers:receipt", args=[application.pk, kind])


def test_the_citizen_prints_both_receipts_of_a_completed_transfer(client, completed):
    client.force_login(completed.applicant.user)
    detail = client.get(reverse("transfers:detail", args=[completed.pk])).content.decode()
    assert receipt_url(completed, "lodged") in detail and receipt_url(completed, "ended") in detail
    lodged = client.get(receipt_url(completed, "lodged")).content.decode()
    assert "受理回执" in lodged and "医保关系转移接续" in lodged and "转出地于" in lodged
    ended = client.get(receipt_url(completed, "ended")).content.decode()
    assert "办结凭证" in ended and "已办结" in ended and "接续日期" in ended
    id_number = completed.applicant.id_number
    assert id_number not in ended and id_number[6:14] not in ended
    assert client.get(receipt_url(completed, "ended", pdf=True)).content.startswith(b"%PDF")


def test_a_running_transfer_has_only_its_lodging_receipt(client, submitted):
    client.force_login(submitted.applicant.user)
    html = client.get(receipt_url(submitted, "lodged")).content.decode()
    assert "转入地受理后，转出地10个工作日内办理转出" in html
    assert client.get(receipt_url(submitted, "ended")).status_code == 404


def test_another_citizen_gets_404(client, submitted):
    other = make_employee(balance="10.00", name="旁人")
    make_citizen_user(other)
    client.force_login(other.user)
    assert client.get(receipt_url(submitted, "lodged")).status_code == 404


def test_the_record_page_and_its_button_say_the_same_name(client, completed):
    client.force_login(completed.applicant.user)
    detail = client.get(reverse("transfers:detail", args=[completed.pk])).content.decode()
    assert "查看和打印参保凭证" in detail
    page = client.get(reverse("transfers:record", args=[completed.pk])).content.decode()
    assert "<title>参保凭证" in page and '<h1 id="paper-title">参保凭证</h1>' in page


def test_both_regions_clerks_print_the_receipt_from_the_admin(client, submitted, nb_clerk, dg_clerk):
    url = reverse("admin:transfers_transferapplication_receipt", args=[submitted.pk, "lodged"])
    for clerk in (nb_clerk, dg_clerk):
        client.force_login(clerk)
        assert client.get(url).content.startswith(b"%PDF")
