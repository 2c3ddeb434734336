"""The personal-data access record: every staff look at one citizen, append-only, searched by auditors."""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import PersonalDataAccess, StaffProfile, StaffRole
from accounts.services import personal_account_of
from conftest import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(client, reviewer):
    from django.contrib.auth.models import Permission

    reviewer.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_person", "view_enrolment", "view_account", "view_ledgerentry"]
    ))
    client.force_login(reviewer)
    return client


def rows_of(person):
    return list(PersonalDataAccess.objects.filter(person=person).order_by("id"))


def test_opening_a_person_records_who_when_where_and_what(clerk_client, reviewer, applicant):
    clerk_client.get(reverse("admin:accounts_person_change", args=[applicant.pk]), REMOTE_ADDR="10.2.3.4")
    [row] = rows_of(applicant)
    assert (row.staff, row.address, row.what) == (reviewer, "10.2.3.4", "参保人员信息")
    assert (row.viewer_role, row.viewer_regions) == (StaffRole.HANDLER, "宁波市")


@pytest.mark.parametrize("page", ["enrolment", "account", "statement", "search"])
def test_each_look_at_one_citizen_is_recorded(clerk_client, applicant, page):
    account = personal_account_of(applicant)
    url = {
        "enrolment": reverse("admin:accounts_enrolment_change", args=[applicant.enrolments.get().pk]),
        "account": reverse("admin:accounts_account_change", args=[account.pk]),
        "statement": reverse("admin:accounts_ledgerentry_changelist") + f"?account={account.pk}",
        "search": reverse("admin:accounts_person_changelist") + f"?q={applicant.id_number}",
    }[page]
    assert clerk_client.get(url).status_code == 200
    [row] = rows_of(applicant)
    assert row.what == {"enrolment": "参保登记", "account": "个人账户", "statement": "个人账户明细",
                        "search": "按身份证号码查询"}[page]


@pytest.mark.parametrize("lookup", ["account__exact", "account_id", "account__id__exact", "account__in"])
def test_the_statement_opens_only_in_the_recorded_way(clerk_client, applicant, lookup):
    account = personal_account_of(applicant)
    url = reverse("admin:accounts_ledgerentry_changelist") + f"?{lookup}={account.pk}"
    assert clerk_client.get(url).status_code == 403
    assert not PersonalDataAccess.objects.exists()


def test_one_accounts_monthly_credits_are_recorded_like_its_statement(clerk_client, reviewer, applicant):
    from django.contrib.auth.models import Permission

    reviewer.user_permissions.add(Permission.objects.get(codename="view_monthlycredit"))
    account = personal_account_of(applicant)
    changelist = reverse("admin:accounts_monthlycredit_changelist")
    assert clerk_client.get(changelist + f"?account__exact={account.pk}").status_code == 403
    assert clerk_client.get(changelist + f"?account={account.pk}").status_code == 200
    [row] = rows_of(applicant)
    assert (row.what, row.reference) == ("每月划入记录", str(account.pk))


def test_the_entries_of_a_region_are_a_list_and_not_recorded(clerk_client, applicant):
    region_id = personal_account_of(applicant).region_id
    url = reverse("admin:accounts_ledgerentry_changelist") + f"?account__region__id__exact={region_id}"
    assert clerk_client.get(url).status_code == 200
    assert not PersonalDataAccess.objects.exists()


def test_a_search_by_card_number_is_recorded(clerk_client, applicant):
    url = reverse("admin:accounts_person_changelist") + f"?q={applicant.card_number}"
    assert clerk_client.get(url).context["cl"].result_count == 1
    [row] = rows_of(applicant)
    assert row.what == "按医保卡号查询"


@pytest.mark.parametrize("lookup", ["id_number", "id_number__startswith", "card_number", "phone"])
def test_a_citizen_is_not_found_through_the_address_instead_of_the_search(clerk_client, applicant, lookup):
    value = {"id_number__startswith": applicant.id_number[:12]}.get(lookup, getattr(applicant, lookup.split("__")[0]))
    url = reverse("admin:accounts_person_changelist") + f"?{lookup}={value}"
    assert clerk_client.get(url).status_code == 403
    assert not PersonalDataAccess.objects.exists()


def test_lists_of_many_citizens_and_searches_by_name_are_not_recorded(clerk_client, applicant):
    clerk_client.get(reverse("admin:accounts_person_changelist"))
    clerk_client.get(reverse("admin:accounts_person_changelist") + "?q=张伟")
    assert not PersonalDataAccess.objects.exists()


def test_a_look_at_another_regions_citizen_is_refused_and_not_recorded(clerk_client, outsider):
    assert clerk_client.get(reverse("admin:accounts_person_change", args=[outsider.pk])).status_code in (302, 404)
    assert not PersonalDataAccess.objects.exists()


def test_the_citizen_sees_region_and_role_never_the_login_name(client, clerk_client, reviewer, applicant, outsider):
    StaffProfile.objects.filter(user=reviewer).update(role=StaffRole.REVIEWER)
    clerk_client.get(reverse("admin:accounts_person_change", args=[applicant.pk]))
    PersonalDataAccess.objects.create(
        staff=reviewer, person=outsider, what="别人的记录", viewer_role=StaffRole.HANDLER, viewer_regions="东莞",
    )
    client.force_login(applicant.user)

    page = client.get(reverse("access_log"))

    assert "宁波市 · 审核人员" in page.text and "参保人员信息" in page.text
    assert reviewer.username not in page.text
    assert "别人的记录" not in page.text
    assert page["Cache-Control"].count("no-store") == 1


def test_the_profile_links_to_the_access_record(client, applicant):
    client.force_login(applicant.user)
    assert reverse("access_log") in client.get(reverse("profile")).text


def queries_of(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_access_page_costs_the_same_queries_however_long(client, applicant, reviewer):
    client.force_login(applicant.user)
    make = lambda count: PersonalDataAccess.objects.bulk_create(  # noqa: E731
        PersonalDataAccess(staff=reviewer, person=applicant, what="参保人员信息", viewer_role="handler",
                           viewer_regions="宁波市") for _ in range(count)
    )
    make(2)
    client.get(reverse("access_log"))  # the header's unread count is kept in the cache from here on
    few = queries_of(client, reverse("access_log"))
    make(40)
    assert queries_of(client, reverse("access_log")) == few


def test_a_superuser_is_shown_as_system_administrator(client, applicant):
    admin_user = make_staff("admin", superuser=True)
    client.force_login(admin_user)
    client.get(reverse("admin:accounts_person_change", args=[applicant.pk]))
    [row] = rows_of(applicant)
    assert (row.viewer_role, row.viewer_regions) == (StaffRole.ADMINISTRATOR, "全部统筹区")


def test_auditors_search_by_citizen_and_staff_and_export(client, reviewer, applicant, outsider):
    for person in (applicant, outsider):
        PersonalDataAccess.objects.create(staff=reviewer, person=person, what="参保人员信息",
                                          viewer_role="handler", viewer_regions="宁波", address="10.0.0.9")
    auditor = make_staff("auditor")
    auditor.groups.add(Group.objects.get(name="审计人员"))
    client.force_login(auditor)
    changelist = reverse("admin:accounts_personaldataaccess_changelist")

    by_citizen = client.get(changelist, {"q": applicant.id_number})
    by_staff = client.get(changelist, {"q": reviewer.username})

    assert list(by_citizen.context["cl"].result_list.values_list("person", flat=True)) == [applicant.pk]
    assert by_staff.context["cl"].result_count == 2
    day = PersonalDataAccess.objects.first().accessed_at
    by_day = client.get(changelist, {"accessed_at__day": day.day, "accessed_at__month": day.month,
                                     "accessed_at__year": day.year})
    assert by_day.status_code == 200
    export = client.post(changelist, {"action": "export_csv",
                                      "_selected_action": list(PersonalDataAccess.objects.values_list("pk", flat=True))})
    text = export.content.decode("utf-8-sig")
    assert export["Content-Type"].startswith("text/csv")
    assert "reviewer" in text and applicant.masked_id_number in text and applicant.id_number not in text


def test_a_clerk_cannot_read_the_record(clerk_client):
    assert clerk_client.get(reverse("admin:accounts_personaldataaccess_changelist")).status_code == 403


def test_nobody_changes_or_deletes_a_row_in_the_admin(client, reviewer, applicant):
    row = PersonalDataAccess.objects.create(staff=reviewer, person=applicant, what="x", viewer_role="handler",
                                            viewer_regions="宁波")
    admin_user = make_staff("admin", superuser=True)
    client.force_login(admin_user)
    assert client.post(reverse("admin:accounts_personaldataaccess_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert PersonalDataAccess.objects.filter(pk=row.pk).exists()


@pytest.mark.postgresql
def test_postgresql_refuses_to_change_or_delete_the_record(reviewer, applicant):
    row = PersonalDataAccess.objects.create(staff=reviewer, person=applicant, what="参保人员信息",
                                            viewer_role="handler", viewer_regions="宁波")
    for statement in (
        lambda: PersonalDataAccess.objects.filter(pk=row.pk).update(what="改过"),
        lambda: PersonalDataAccess.objects.filter(pk=row.pk).delete(),
    ):
        with pytest.raises((IntegrityError, InternalError, ProgrammingError)), transaction.atomic():
            statement()
    row.refresh_from_db()
    assert row.what == "参保人员信息"
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize("page", ["history", "old version"])
def test_a_look_at_a_persons_history_is_recorded(clerk_client, applicant, page):
    applicant.phone = "13900000001"
    applicant.save()
    version = applicant.history.earliest()
    url = {
        "history": reverse("admin:accounts_person_history", args=[applicant.pk]),
        "old version": reverse("admin:accounts_person_simple_history", args=[applicant.pk, version.pk]),
    }[page]
    assert clerk_client.get(url).status_code == 200
    [row] = rows_of(applicant)
    assert row.what == {"history": "参保人员信息（修改历史）", "old version": "参保人员信息（历史版本）"}[page]


def test_a_superusers_look_at_a_citizens_login_is_recorded(client, applicant, reviewer):
    client.force_login(make_staff("admin", superuser=True))
    found = client.get(reverse("admin:accounts_user_changelist"), {"q": applicant.id_number})
    assert found.context["cl"].result_count == 1
    client.get(reverse("admin:accounts_user_change", args=[applicant.user.pk]))
    client.get(reverse("admin:accounts_user_change", args=[reviewer.pk]))
    assert [row.what for row in rows_of(applicant)] == ["按身份证号码查询", "登录账号"]
    assert PersonalDataAccess.objects.count() == 2
