import pytest
from django.urls import reverse

from conftest import make_staff
from review.access import can_view_application, is_reviewing_staff, regions_concerned
from review.materials import add_material

from .conftest import grant
from .files import pdf_bytes, png_bytes, upload

pytestmark = pytest.mark.urls("review.tests.urls")


@pytest.fixture
def material(make_dossier, applicant, storage):
    dossier = make_dossier(applicant)
    hostile_name = upload('evil"\r\nX-Hack: 1.pdf', pdf_bytes())
    return add_material(application=dossier, kind="身份证", uploaded_file=hostile_name, actor=None)


def url(material, query=""):
    return reverse("material_download", args=[material.pk]) + query


def body(response):
    return b"".join(response.streaming_content)


def test_the_applicant_downloads_the_file_as_an_attachment(client, applicant, material):
    client.force_login(applicant.user)
    response = client.get(url(material))
    assert response.status_code == 200
    assert body(response) == pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store, private"
    number = material.application.number
    assert response["Content-Disposition"] == f'attachment; filename="{number}-{material.pk}.pdf"'


def test_the_citizens_file_name_never_reaches_the_headers(client, applicant, material):
    client.force_login(applicant.user)
    response = client.get(url(material))
    assert "X-Hack" not in response
    assert "evil" not in str(response.headers)


def test_the_applicant_cannot_ask_for_inline_display(client, applicant, material):
    client.force_login(applicant.user)
    assert client.get(url(material, "?inline=1"))["Content-Disposition"].startswith("attachment")


def test_another_citizen_gets_404(client, outsider, material):
    client.force_login(outsider.user)
    assert client.get(url(material)).status_code == 404


def test_anonymous_is_sent_to_login(client, material):
    response = client.get(url(material))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_material_that_does_not_exist_gets_404(client, applicant, material):
    client.force_login(applicant.user)
    assert client.get(reverse("material_download", args=[material.pk + 1000])).status_code == 404


def test_staff_of_the_region_with_the_view_permission_can_download_and_view_inline(client, material):
    clerk = grant(make_staff("clerk_nb", "330200"), "view_dossier")
    client.force_login(clerk)
    assert client.get(url(material)).status_code == 200
    response = client.get(url(material, "?inline=1"))
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("query", ["?inline=1", ""])
def test_a_material_is_sent_sandboxed_with_nothing_else_allowed_to_load(client, material, query):
    client.force_login(grant(make_staff("clerk_nb", "330200"), "view_dossier"))
    policy = [part.strip() for part in client.get(url(material, query))["Content-Security-Policy"].split(";")]
    assert "sandbox" in policy
    assert "default-src 'none'" in policy
    assert not any("script" in part for part in policy)


def test_staff_of_the_region_without_the_view_permission_get_404(client, material):
    client.force_login(make_staff("clerk_nb", "330200"))
    assert client.get(url(material)).status_code == 404


def test_staff_of_another_region_get_404_even_with_the_permission(client, material):
    clerk = grant(make_staff("clerk_dg", "441900"), "view_dossier")
    client.force_login(clerk)
    assert client.get(url(material)).status_code == 404


def test_inactive_staff_may_not_view(material):
    clerk = grant(make_staff("clerk_nb", "330200"), "view_dossier")
    assert can_view_application(clerk, material.application)
    clerk.is_active = False
    assert not can_view_application(clerk, material.application)


def test_a_superuser_can_download(client, material):
    client.force_login(make_staff("boss", superuser=True))
    assert client.get(url(material)).status_code == 200


def test_a_png_is_sent_with_its_own_type(client, make_dossier, applicant, storage):
    dossier = make_dossier(applicant)
    material = add_material(
        application=dossier, kind="照片", uploaded_file=upload("a.png", png_bytes()), actor=None
    )
    client.force_login(applicant.user)
    response = client.get(url(material))
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].endswith('.png"')


def test_a_file_missing_from_storage_gets_404(client, applicant, material):
    material.file.storage.delete(material.file.name)
    client.force_login(applicant.user)
    assert client.get(url(material)).status_code == 404


def test_posting_is_not_allowed(client, applicant, material):
    client.force_login(applicant.user)
    assert client.post(url(material)).status_code == 405


def test_an_application_names_its_own_region_unless_it_says_which_regions_it_concerns(material):
    dossier = material.application
    assert regions_concerned(dossier) == [dossier.region_id]
    dongguan = make_staff("clerk_dg", "441900").staff_profile.regions.get()
    dossier.regions_concerned = lambda: [dossier.region_id, dongguan.pk]
    assert regions_concerned(dossier) == [dossier.region_id, dongguan.pk]


def test_staff_of_every_region_the_application_concerns_may_view_it(material):
    dossier = material.application
    clerk = grant(make_staff("clerk_dg", "441900"), "view_dossier")
    assert not is_reviewing_staff(clerk, dossier)
    dongguan = clerk.staff_profile.regions.get()
    dossier.regions_concerned = lambda: [dossier.region_id, dongguan.pk]
    assert is_reviewing_staff(clerk, dossier)
    stranger = grant(make_staff("clerk_nj", "320100"), "view_dossier")
    assert not is_reviewing_staff(stranger, dossier)


def test_a_staff_download_is_recorded_and_the_applicants_own_is_not(client, material, applicant):
    from accounts.models import PersonalDataAccess

    client.force_login(applicant.user)
    client.get(url(material))
    assert not PersonalDataAccess.objects.exists()
    clerk = grant(make_staff("clerk_nb", "330200"), "view_dossier")
    client.force_login(clerk)
    client.get(url(material))
    [row] = PersonalDataAccess.objects.all()
    assert (row.staff, row.person, row.what) == (clerk, applicant, "申请材料")


@pytest.mark.real_login
def test_staff_without_the_second_factor_get_404(client, material):
    client.force_login(grant(make_staff("clerk_nb", "330200"), "view_dossier"))
    assert client.get(url(material)).status_code == 404
