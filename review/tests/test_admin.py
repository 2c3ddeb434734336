import datetime

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django.urls import reverse

from conftest import make_staff
from review.admin import EventInline, MaterialInline, warn_about_unknown_years
from review.calendar import LIBRARY_YEARS
from review.materials import add_material
from review.models import Event, Holiday
from review.transitions import record_creation, transition

from .files import pdf_bytes, upload

pytestmark = pytest.mark.urls("review.tests.urls")


def test_holiday_changelist_says_which_years_are_built_in(admin_client):
    Holiday.objects.create(date=datetime.date(2084, 1, 1), kind=Holiday.Kind.HOLIDAY, name="元旦")
    page = admin_client.get(reverse("admin:review_holiday_changelist")).content.decode()
    first, last = LIBRARY_YEARS.start, LIBRARY_YEARS.stop - 1
    assert first <= 2004 and last >= 2026
    assert f"{first}–{last}" in page
    assert f"{last + 1} 年起" in page
    assert "2084 年 1 天" in page


def test_staff_add_a_holiday_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:review_holiday_add"), {"date": "2028-10-01", "kind": "holiday", "name": "国庆节"}
    )
    assert response.status_code == 302
    assert Holiday.objects.get(date=datetime.date(2028, 10, 1)).name == "国庆节"


def test_the_same_date_cannot_be_entered_twice(admin_client):
    Holiday.objects.create(date=datetime.date(2028, 10, 1), kind=Holiday.Kind.HOLIDAY, name="国庆节")
    response = admin_client.post(
        reverse("admin:review_holiday_add"), {"date": "2028-10-01", "kind": "workday", "name": "调休"}
    )
    assert response.status_code == 200
    assert Holiday.objects.count() == 1


def test_the_event_log_is_read_only(admin_client, make_dossier, applicant):
    dossier = make_dossier(applicant)
    event = record_creation(application=dossier, actor=applicant.user)
    assert admin_client.get(reverse("admin:review_event_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:review_event_add")).status_code == 403
    change = admin_client.post(reverse("admin:review_event_change", args=[event.pk]), {"note": "changed"})
    assert change.status_code == 403
    event.refresh_from_db()
    assert event.note == ""
    delete = admin_client.post(reverse("admin:review_event_delete", args=[event.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()


def test_the_whole_event_log_is_for_superusers_only(client, db):
    clerk = make_staff("clerk_nb", "330200")
    client.force_login(clerk)
    assert client.get(reverse("admin:review_event_changelist")).status_code == 403


def test_event_log_shows_status_labels(admin_client, make_dossier, applicant):
    dossier = make_dossier(applicant)
    transition(application=dossier, to="submitted", actor=applicant.user)
    page = admin_client.get(reverse("admin:review_event_changelist")).content.decode()
    assert "草稿" in page and "已提交" in page


def test_the_inlines_are_read_only_and_link_to_the_checked_download(
    make_dossier, applicant, storage, dossier_model
):
    dossier = make_dossier(applicant)
    material = add_material(
        application=dossier, kind="身份证", uploaded_file=upload("a.pdf", pdf_bytes()), actor=None
    )
    request = RequestFactory().get("/")
    request.user = make_staff("clerk_nb", "330200")
    for inline_class in (EventInline, MaterialInline):
        inline = inline_class(dossier_model, admin.site)
        assert not inline.has_add_permission(request, dossier)
        assert not inline.has_change_permission(request, dossier)
        assert not inline.has_delete_permission(request, dossier)
        assert inline.has_view_permission(request, dossier)
    links = MaterialInline(dossier_model, admin.site).open_links(material)
    url = reverse("material_download", args=[material.pk])
    assert f'href="{url}?inline=1"' in links and f'href="{url}"' in links
    assert "file" not in MaterialInline.fields


def test_a_deadline_in_an_unknown_year_adds_one_warning(rf, db):
    request = rf.get("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    known, unknown = datetime.date(2026, 10, 13), datetime.date(2084, 3, 1)
    warn_about_unknown_years(request, known, unknown, unknown, None)
    texts = [str(message) for message in get_messages(request)]
    assert len(texts) == 1 and "2084年" in texts[0]
