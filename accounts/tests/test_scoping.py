import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts.models import Account, Enrolment, Person, Region, User
from accounts.scoping import RegionListFilter, limit_to_regions, regions_of
from accounts.services import record_enrolment, stop_enrolment
from conftest import make_employee, make_staff, region

pytestmark = pytest.mark.django_db


def request_by(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_superuser_serves_every_region():
    boss = make_staff("boss", superuser=True)
    assert regions_of(boss).count() == Region.objects.count()


def test_staff_serve_the_regions_of_their_profile(reviewer):
    assert list(regions_of(reviewer)) == [region("330200")]


def test_staff_without_profile_serve_no_region():
    user = User.objects.create_user(username="newcomer", password="x", is_staff=True)
    assert not regions_of(user).exists()


@pytest.mark.parametrize("flags", [{"is_staff": False}, {"is_active": False}])
def test_citizen_or_inactive_staff_serve_no_region(reviewer, flags):
    User.objects.filter(pk=reviewer.pk).update(**flags)
    reviewer.refresh_from_db()
    assert not regions_of(reviewer).exists()


def test_anonymous_user_serves_no_region():
    assert not regions_of(AnonymousUser()).exists()


def test_limit_lists_a_person_enrolled_twice_in_the_region_once(reviewer):
    person = make_employee(name="王芳")
    stop_enrolment(enrolment=person.enrolments.get())
    record_enrolment(person=person, region=region("330200"), insurance_type=Enrolment.InsuranceType.RESIDENT)
    make_employee(region_code="441900", name="陈明")

    persons = limit_to_regions(Person.objects.all(), reviewer, "enrolments__region")

    assert list(persons) == [person]


def test_limit_never_needs_distinct(reviewer):
    # DISTINCT would make every count of a list sort all of its rows; a to-many path is asked with EXISTS.
    make_employee()
    accounts = limit_to_regions(Account.objects.all(), reviewer, "region")
    assert not accounts.query.distinct
    persons = limit_to_regions(Person.objects.all(), reviewer, "enrolments__region")
    assert not persons.query.distinct and persons.count() == 1


def test_limit_leaves_a_superusers_rows_alone():
    make_employee()
    make_employee(region_code="441900")
    boss = make_staff("boss", superuser=True)
    assert limit_to_regions(Person.objects.all(), boss, "enrolments__region").count() == 2


def test_region_field_offers_only_the_clerks_regions(other_region_clerk):
    model_admin = admin.site.get_model_admin(Enrolment)
    region_field = Enrolment._meta.get_field("region")
    field = model_admin.formfield_for_foreignkey(region_field, request_by(other_region_clerk))
    assert list(field.queryset) == [region("441900")]


def test_region_filter_offers_only_the_clerks_regions():
    clerk = make_staff("clerk_two", "330200", "441900")
    model_admin = admin.site.get_model_admin(Enrolment)
    field = Enrolment._meta.get_field("region")
    region_filter = RegionListFilter(field, request_by(clerk), {}, Enrolment, model_admin, "region")
    assert [label for _pk, label in region_filter.lookup_choices] == ["宁波市（330200）", "东莞市（441900）"]
