"""accounts.sql: plain-SQL writes and reads of model rows must give what the ORM would, on both databases."""

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection

from accounts import sql
from accounts.models import Account, Notice, Person
from conftest import make_employee, make_person

pytestmark = pytest.mark.django_db


def test_insert_writes_the_rows_and_sets_their_ids():
    person = make_person()
    notices = [Notice(person=person, title=f"标题{n}", body="内容", link="/sharing/") for n in range(3)]

    sql.insert(notices)

    assert all(notice.pk and not notice._state.adding for notice in notices)
    stored = {notice.pk: notice for notice in Notice.objects.filter(person=person)}
    assert sorted(stored) == sorted(notice.pk for notice in notices)
    for notice in notices:
        assert (stored[notice.pk].title, stored[notice.pk].created_at) == (notice.title, notice.created_at)


def test_update_writes_only_the_given_fields_and_refuses_a_missing_row():
    person = make_person()
    notice = sql.insert([Notice(person=person, title="旧标题", body="旧内容")])[0]
    notice.title, notice.body = "新标题", "不保存"

    sql.update(notice, ["title"])

    assert Notice.objects.values_list("title", "body").get(pk=notice.pk) == ("新标题", "旧内容")
    notice.pk += 1000
    with pytest.raises(DatabaseError):
        sql.update(notice, ["title"])


def test_instance_converts_values_as_the_orm_does():
    account = make_employee(balance="12.30").enrolments.get().account
    row = Account.objects.values_list("id", "kind", "balance").get(pk=account.pk)
    # What a cursor returns: SQLite gives a float for the balance, PostgreSQL a Decimal.
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, kind, balance FROM accounts_account WHERE id = %s", [account.pk])
        pk, kind, balance = cursor.fetchone()

    built = sql.instance(Account, id=pk, kind=kind, balance=balance)

    assert (built.pk, built.kind, built.balance) == row
    assert built.balance == Decimal("12.30") and isinstance(built.balance, Decimal)
    assert built.region_id == account.region_id  # a deferred field, loaded when read


def test_select_one_reads_every_column_or_none():
    person = make_person()
    person.died_on = datetime.date(2026, 1, 2)
    person.save(update_fields=["died_on"])

    found = sql.select_one(Person, "id_number", person.id_number)

    assert (found.pk, found.name, found.died_on, found.created_at) == (
        person.pk,
        person.name,
        datetime.date(2026, 1, 2),
        Person.objects.get(pk=person.pk).created_at,
    )
    assert sql.select_one(Person, "id_number", "no such number") is None


def test_account_page_facts_name_the_persons_accounts_with_their_last_entry_and_enrolment():
    person = make_employee(balance=Decimal("10.00"))
    first = Account.objects.get(kind=Account.Kind.PERSONAL, enrolment__person=person)
    entry = first.entries.latest("id")
    other = make_employee(balance=Decimal("99.00"))  # someone else's account is not among them

    facts = sql.account_page_facts(person.pk)

    assert [row[0] for row in facts] == [first.pk]
    _, status, hold, balance, last_entry, enrolment_status, months, base, employment = facts[0]
    assert (status, hold, sql.money(balance), last_entry) == (first.status, first.hold, Decimal("10.00"), entry.pk)
    assert (enrolment_status, employment) == (first.enrolment.status, first.enrolment.employment)
    assert months == first.enrolment.contribution_months and sql.money(base) == first.enrolment.contribution_base
    assert sql.account_page_facts(other.pk)[0][0] != first.pk
    assert sql.account_page_facts(make_person().pk) == []


def test_notice_facts_count_the_persons_notices_those_to_do_and_unread_and_name_the_newest():
    person, other = make_person(), make_person()
    assert sql.notice_facts(person.pk) == (0, 0, 0, None)
    read = Notice.objects.create(person=person, title="已读", body="内容", read_at=datetime.datetime.now(datetime.UTC))
    Notice.objects.create(person=person, title="待办", body="内容", needs_action=True)
    newest = Notice.objects.create(person=person, title="未读", body="内容")
    Notice.objects.create(person=other, title="别人的", body="内容")

    assert sql.notice_facts(person.pk) == (3, 1, 2, newest.pk)
    assert read.pk < newest.pk


def test_user_with_person_loads_what_the_orm_would_and_the_person_without_another_query(
    applicant, reviewer, django_assert_num_queries
):
    from accounts.models import User

    with django_assert_num_queries(1):
        user = sql.user_with_person(str(applicant.user.pk))
        assert user.person.name == applicant.name and user.person.user is user
    expected = User.objects.select_related("person").get(pk=applicant.user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(expected, field.attname), field.name
    for field in Person._meta.concrete_fields:
        assert getattr(user.person, field.attname) == getattr(expected.person, field.attname), field.name

    staff = sql.user_with_person(reviewer.pk)
    assert staff.username == reviewer.username and staff.person is None
    assert sql.user_with_person(10**9) is None
    assert sql.user_with_person("not a number") is None
