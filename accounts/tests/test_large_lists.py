"""Admin lists at a province's size: counted only as far as the pages go, scoped without DISTINCT, searched by
index."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.large_lists import LargeListPaginator
from accounts.models import Account, Enrolment, JournalTransaction, LedgerEntry, Notice, Person
from accounts.services import record_enrolment, stop_enrolment
from accounts.tests.test_admin import grant_desk
from conftest import make_employee, make_staff, region

pytestmark = pytest.mark.django_db

# Each list and what a row of it belongs to: a person.
LISTS = {
    "person": lambda person: Person.objects.filter(pk=person.pk),
    "enrolment": lambda person: Enrolment.objects.filter(person=person),
    "account": lambda person: Account.objects.filter(enrolment__person=person),
    "journaltransaction": lambda person: JournalTransaction.objects.filter(entries__account__enrolment__person=person),
    "ledgerentry": lambda person: LedgerEntry.objects.filter(account__enrolment__person=person),
    "notice": lambda person: Notice.objects.filter(person=person),
}


def url(model):
    return reverse(f"admin:accounts_{model}_changelist")


def listed(response):
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


@pytest.fixture
def people():
    ningbo = make_employee(balance="2000.00", name="张伟", card_number="NB0001")
    dongguan = make_employee(balance="1500.00", region_code="441900", name="陈明", card_number="DG0001")
    for person in (ningbo, dongguan):
        services.notify(person=person, title="通知", body="…")
    return ningbo, dongguan


@pytest.mark.parametrize("model", LISTS)
def test_a_clerk_lists_and_finds_only_rows_of_own_region(client, reviewer, people, model):
    ningbo, dongguan = people
    client.force_login(grant_desk(reviewer))
    rows_of = LISTS[model]

    rows = listed(client.get(url(model)))
    assert rows >= set(rows_of(ningbo)) and not rows & set(rows_of(dongguan))
    if model in ("person", "enrolment", "account", "notice"):
        assert listed(client.get(url(model), {"q": ningbo.id_number})) == set(rows_of(ningbo))
        assert listed(client.get(url(model), {"q": dongguan.id_number})) == set()
        assert listed(client.get(url(model), {"q": "DG0001"})) == set()


@pytest.mark.parametrize("model", LISTS)
def test_a_superuser_lists_and_finds_every_region(admin_client, people, model):
    ningbo, dongguan = people
    rows_of = LISTS[model]

    assert listed(admin_client.get(url(model))) >= set(rows_of(ningbo)) | set(rows_of(dongguan))
    if model in ("person", "enrolment", "account", "notice"):
        assert listed(admin_client.get(url(model), {"q": dongguan.id_number})) == set(rows_of(dongguan))


def test_a_person_enrolled_twice_in_the_region_is_listed_once_and_counted_once(client, reviewer):
    person = make_employee(name="王芳")
    stop_enrolment(enrolment=person.enrolments.get())
    record_enrolment(person=person, region=region("330200"), insurance_type=Enrolment.InsuranceType.RESIDENT)
    client.force_login(grant_desk(reviewer))

    response = client.get(url("person"))

    assert list(response.context["cl"].result_list) == [person]
    assert response.context["cl"].result_count == 1


def test_the_name_search_matches_the_start_of_a_name(client, reviewer, people):
    ningbo, _dongguan = people
    client.force_login(grant_desk(reviewer))

    assert listed(client.get(url("person"), {"q": "张"})) == {ningbo}
    assert listed(client.get(url("person"), {"q": "张伟"})) == {ningbo}
    assert listed(client.get(url("person"), {"q": "伟"})) == set()


def test_a_list_is_counted_only_as_far_as_its_pages_go(admin_client, monkeypatch):
    monkeypatch.setattr(LargeListPaginator, "limit", 3)
    for _person in range(5):
        make_employee()

    response = admin_client.get(url("person"))

    paginator = response.context["cl"].paginator
    assert paginator.capped and paginator.count == 3
    assert "超过 3 条参保人员" in response.text


def test_a_list_within_the_limit_shows_its_exact_count(admin_client):
    for _person in range(2):
        make_employee()

    response = admin_client.get(url("person"))

    assert not response.context["cl"].paginator.capped
    assert response.context["cl"].result_count == 2
    assert "超过" not in response.text


def test_a_page_beyond_the_limit_is_not_offered(admin_client, monkeypatch):
    monkeypatch.setattr(LargeListPaginator, "limit", 2)
    for _person in range(4):
        make_employee()
    model_admin = admin_client.get(url("person")).context["cl"].model_admin
    monkeypatch.setattr(model_admin, "list_per_page", 1)

    assert admin_client.get(url("person"), {"p": 2}).status_code == 200
    # Page 3 would start past the counted rows: the admin answers as for any page that does not exist.
    assert "e=1" in admin_client.get(url("person"), {"p": 3})["Location"]


def test_the_event_log_is_searched_by_application_id_or_staff_login(admin_client, people):
    from django.contrib.contenttypes.models import ContentType

    from review.models import Event

    clerk = make_staff("reviewer_nb", "330200")
    kind = ContentType.objects.get_for_model(Person)
    by_clerk = Event.objects.create(content_type=kind, object_id=41, from_status="", to_status="a", actor=clerk)
    other = Event.objects.create(content_type=kind, object_id=42, from_status="", to_status="a")
    events = reverse("admin:review_event_changelist")

    assert listed(admin_client.get(events, {"q": "42"})) == {other}
    assert listed(admin_client.get(events, {"q": "viewer_n"})) == {by_clerk}
    assert listed(admin_client.get(events, {"q": "nobody"})) == set()


def test_persons_are_filtered_by_their_enrolments_once_each(admin_client):
    moved = make_employee(name="王芳")
    stop_enrolment(enrolment=moved.enrolments.get())
    record_enrolment(person=moved, region=region("330200"), insurance_type=Enrolment.InsuranceType.RESIDENT)
    dongguan = make_employee(region_code="441900", name="陈明")

    by_region = admin_client.get(url("person"), {"enrolments__region": region("330200").pk})
    by_status = admin_client.get(url("person"), {"enrolments__status": Enrolment.Status.STOPPED})
    by_type = admin_client.get(url("person"), {"enrolments__insurance_type": Enrolment.InsuranceType.EMPLOYEE})

    assert list(by_region.context["cl"].result_list) == [moved]
    assert list(by_status.context["cl"].result_list) == [moved]
    assert set(by_type.context["cl"].result_list) == {moved, dongguan}
    assert by_type.context["cl"].result_count == 2
