"""The two desks in the admin: who sees which transfer, whose buttons show, the decisions, the counter."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.services import freeze_account
from conftest import make_citizen_user, make_employee, make_staff, region
from review.materials import materials_of
from transfers import services
from transfers.models import TransferApplication

from .conftest import DONGGUAN, NINGBO, apply, grant, move, png_upload, refreshed

pytestmark = pytest.mark.django_db

Status = TransferApplication.Status
QUEUE = reverse("admin:transfers_transferapplication_changelist")


def change_url(application):
    return reverse("admin:transfers_transferapplication_change", args=[application.pk])


def decide_url(application, decision):
    return reverse("admin:transfers_transferapplication_decide", args=[application.pk, decision])


def texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def nb_client(client, nb_clerk):
    client.force_login(nb_clerk)
    return client


@pytest.fixture
def dg_client(client, dg_clerk):
    client.force_login(dg_clerk)
    return client


# Who sees what -----------------------------------------------------------------------------------


@pytest.mark.parametrize("clerk_fixture", ["nb_clerk", "dg_clerk"])
def test_both_regions_see_the_transfer_masked_in_the_queue(request, client, submitted, clerk_fixture):
    client.force_login(request.getfixturevalue(clerk_fixture))
    html = client.get(QUEUE, {"queue": "all"}).content.decode()
    assert submitted.number in html
    assert "陈*" in html and submitted.applicant.id_number not in html
    page = client.get(change_url(submitted)).content.decode()
    assert submitted.applicant.id_number in page  # the detail view shows it whole


def test_a_third_regions_clerk_sees_nothing_and_gets_404(client, completed):
    client.force_login(grant(make_staff("clerk_nj", "320100")))
    assert completed.number not in client.get(QUEUE).content.decode()
    assert client.get(change_url(completed)).status_code == 404
    assert client.get(decide_url(completed, "accept")).status_code == 404
    assert client.get(reverse("admin:transfers_record_pdf", args=[completed.pk])).status_code == 404
    (material,) = materials_of(completed)
    assert client.get(reverse("material_download", args=[material.pk])).status_code == 404


def test_staff_of_the_region_without_the_view_permission_get_neither_the_form_nor_a_decision_page(
    client, completed, submitted_other
):
    client.force_login(make_staff("bare_nb", NINGBO, DONGGUAN))
    assert client.get(reverse("admin:transfers_record_pdf", args=[completed.pk])).status_code == 403
    # A step's permission alone does not open the page that shows the applicant's whole ID number.
    client.force_login(grant(make_staff("accept_only_nb", NINGBO), "accept_transfer"))
    response = client.get(decide_url(submitted_other, "accept"))
    assert response.status_code == 403
    assert submitted_other.applicant.id_number not in response.content.decode()


@pytest.fixture
def submitted_other(db):
    person = move(make_employee(balance="50.00", region_code=DONGGUAN, name="吴九"))
    make_citizen_user(person)
    return apply(person)


@pytest.mark.parametrize("clerk_fixture", ["nb_clerk", "dg_clerk"])
def test_clerks_of_both_regions_open_the_id_card_image(request, client, submitted, clerk_fixture):
    client.force_login(request.getfixturevalue(clerk_fixture))
    (material,) = materials_of(submitted)
    response = client.get(reverse("material_download", args=[material.pk]) + "?inline=1")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_another_citizen_cannot_open_the_id_card_image(client, submitted, applicant):
    client.force_login(applicant.user)
    (material,) = materials_of(submitted)
    assert client.get(reverse("material_download", args=[material.pk])).status_code == 404


# Whose buttons show ------------------------------------------------------------------------------


def buttons(client, application):
    html = client.get(change_url(application)).content.decode()
    return {key for key in ("accept", "transfer-out", "transfer-in", "return", "refuse", "resubmit", "cancel")
            if decide_url(application, key) in html}


def test_only_the_new_region_has_the_buttons_of_a_submitted_transfer(client, submitted, nb_clerk, dg_clerk):
    client.force_login(nb_clerk)
    assert buttons(client, submitted) == {"accept", "return", "refuse"}
    client.force_login(dg_clerk)
    assert buttons(client, submitted) == set()
    assert client.get(decide_url(submitted, "accept")).status_code == 403


def test_only_the_old_region_has_the_buttons_of_an_accepted_transfer(client, accepted, nb_clerk, dg_clerk):
    client.force_login(dg_clerk)
    assert buttons(client, accepted) == {"transfer-out", "return", "refuse"}
    client.force_login(nb_clerk)
    assert buttons(client, accepted) == set()
    assert client.post(decide_url(accepted, "transfer-out"), {"note": ""}).status_code == 403
    assert refreshed(accepted).status == Status.ACCEPTED


def test_only_the_new_region_has_the_button_to_transfer_in(client, transferred_out, nb_clerk, dg_clerk):
    client.force_login(nb_clerk)
    assert buttons(client, transferred_out) == {"transfer-in"}
    client.force_login(dg_clerk)
    assert buttons(client, transferred_out) == set()


def test_the_change_page_shows_the_condition_check(nb_client, submitted):
    assert "符合转移条件" in nb_client.get(change_url(submitted)).content.decode()


# Decisions through the admin ---------------------------------------------------------------------


def test_the_two_desks_take_the_transfer_through_to_completion(client, submitted, nb_clerk, dg_clerk):
    client.force_login(nb_clerk)
    response = client.post(decide_url(submitted, "accept"), {"note": "材料齐全"})
    assert response.status_code == 302 and "已受理，已转交转出地办理转出。" in texts(response)
    client.force_login(dg_clerk)
    page = client.get(decide_url(submitted, "transfer-out")).content.decode()
    assert "¥1,500.00" in page and "转出时全部转出" in page
    client.post(decide_url(submitted, "transfer-out"), {"note": ""})
    assert refreshed(submitted).status == Status.TRANSFERRED_OUT
    pdf = client.get(reverse("admin:transfers_record_pdf", args=[submitted.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    client.force_login(nb_clerk)
    client.post(decide_url(submitted, "transfer-in"), {"note": ""})
    row = refreshed(submitted)
    assert row.status == Status.COMPLETED and row.new_account.balance == 1500
    assert client.get(reverse("admin:transfers_record_pdf", args=[submitted.pk])).status_code == 200


def test_the_refusal_form_offers_the_failing_condition(nb_client, submitted, dg_clerk):
    freeze_account(account=submitted.old_account, actor=dg_clerk, reason="核查")
    page = nb_client.get(decide_url(submitted, "refuse")).content.decode()
    assert "不符合转移条件" in page and "个人账户已冻结" in page
    response = nb_client.post(decide_url(submitted, "accept"), {"note": ""})
    assert any("请不予受理" in text for text in texts(response))
    nb_client.post(decide_url(submitted, "refuse"), {"reason": "原参保地个人账户已冻结"})
    assert refreshed(submitted).status == Status.REFUSED


def test_the_old_region_returns_through_its_desk(dg_client, accepted):
    response = dg_client.post(decide_url(accepted, "return"), {"note": "请补充说明", "replace_id_card": "on"})
    assert response.status_code == 302
    row = refreshed(accepted)
    assert (row.status, row.returned_by, row.id_card_to_replace) == (Status.RETURNED, "old", True)


def test_a_refused_transfer_in_shows_the_transfer_still_waiting_for_it(nb_client, transferred_out, nb_clerk):
    freeze_account(account=transferred_out.new_account, actor=nb_clerk, reason="核查")
    response = nb_client.post(decide_url(transferred_out, "transfer-in"), {"note": ""})
    html = response.content.decode()
    assert "该账户已冻结" in html
    # The step was rolled back, and the page says so: not 已转入 of a transfer still at 已转出.
    assert "已转出（待转入地办理转入）" in html and "已转入<" not in html
    assert refreshed(transferred_out).status == Status.TRANSFERRED_OUT


def test_a_bulk_step_without_confirmation_moves_nothing(nb_client, transferred_out):
    # Each step is taken on one application's page: the queue offers no bulk action that could move money.
    nb_client.post(QUEUE, {"action": "transfer_in_selected", "_selected_action": [transferred_out.pk]})
    row = refreshed(transferred_out)
    assert (row.status, row.in_journal) == (Status.TRANSFERRED_OUT, None)
    assert "_selected_action" not in nb_client.get(QUEUE).content.decode()


# The counter -------------------------------------------------------------------------------------


@pytest.mark.parametrize("clerk_fixture", ["nb_clerk", "dg_clerk"])
def test_a_clerk_of_either_region_lodges_at_the_counter(request, client, moving, clerk_fixture):
    client.force_login(request.getfixturevalue(clerk_fixture))
    assert client.get(reverse("admin:transfers_transferapplication_add")).status_code == 200
    response = client.post(reverse("admin:transfers_transferapplication_add"), {
        "applicant_id_number": moving.id_number, "old_region": region(DONGGUAN).pk,
        "new_region": region(NINGBO).pk, "reason": "work", "reason_note": "", "id_card": png_upload(),
        "declaration": "on",
    })
    application = TransferApplication.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(application)
    assert application.is_at_counter
    assert buttons(client, application) >= {"cancel"}


def test_the_counter_clerk_resubmits_a_returned_counter_application(client, moving, nb_clerk, dg_clerk):
    application = services.apply_at_counter(
        clerk=dg_clerk, applicant_id_number=moving.id_number, old_region=region(DONGGUAN),
        new_region=region(NINGBO), reason="work", id_card=png_upload(),
    )
    services.return_transfer(
        application=application, actor=nb_clerk, note="扫描件不清晰", replace_id_card=True
    )
    client.force_login(dg_clerk)
    assert "resubmit" in buttons(client, refreshed(application))
    response = client.post(decide_url(application, "resubmit"), {
        "reason": "work", "reason_note": "", "id_card": png_upload("重扫.png"), "declaration": "on",
    })
    assert response.status_code == 302
    assert refreshed(application).status == Status.SUBMITTED
    kept = [(m.original_name, m.is_replaced) for m in materials_of(application)]
    assert kept == [("身份证.png", True), ("重扫.png", False)]


def test_the_counter_form_refuses_with_the_condition(client, outsider, nb_clerk):
    client.force_login(nb_clerk)
    response = client.post(reverse("admin:transfers_transferapplication_add"), {
        "applicant_id_number": outsider.id_number, "old_region": region(DONGGUAN).pk,
        "new_region": region(NINGBO).pk, "reason": "work", "id_card": png_upload(), "declaration": "on",
    })
    assert "仍在参保中" in response.content.decode()


# The queue ---------------------------------------------------------------------------------------


def test_search_finds_by_number_or_whole_id_number_only(nb_client, submitted):
    id_number = submitted.applicant.id_number
    assert submitted.number in nb_client.get(QUEUE, {"q": submitted.number}).content.decode()
    assert submitted.number in nb_client.get(QUEUE, {"q": id_number}).content.decode()
    assert submitted.number not in nb_client.get(QUEUE, {"q": id_number[:10]}).content.decode()


def test_overdue_transfers_are_flagged_and_filtered(nb_client, accepted, monkeypatch):
    everything = {"queue": "all"}
    assert "已超期</strong>" not in nb_client.get(QUEUE, everything).content.decode()
    later = refreshed(accepted).transfer_out_due + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: later)
    html = nb_client.get(QUEUE, everything).content.decode()
    assert 'class="overdue-badge">已超期</strong>' in html
    assert accepted.number in nb_client.get(QUEUE, {"overdue": "yes", **everything}).content.decode()
    assert accepted.number not in nb_client.get(QUEUE, {"overdue": "no", **everything}).content.decode()


def test_the_awaiting_filter_lists_each_desks_steps(client, submitted, accepted_other, nb_clerk, dg_clerk):
    client.force_login(nb_clerk)
    mine = client.get(QUEUE, {"awaiting": "mine"}).content.decode()
    assert submitted.number in mine and accepted_other.number not in mine
    client.force_login(dg_clerk)
    mine = client.get(QUEUE, {"awaiting": "mine"}).content.decode()
    assert accepted_other.number in mine and submitted.number not in mine


@pytest.fixture
def accepted_other(db, nb_clerk):
    person = move(make_employee(balance="50.00", region_code=DONGGUAN, name="周八"))
    make_citizen_user(person)
    return services.accept_transfer(application=apply(person), actor=nb_clerk)


def test_the_queue_takes_constant_queries(nb_client, submitted, nb_clerk, django_assert_num_queries):
    with CaptureQueriesContext(connection) as one:
        assert nb_client.get(QUEUE, {"queue": "all"}).status_code == 200
    for n in range(4):
        person = move(make_employee(balance="10.00", region_code=DONGGUAN, name=f"排队{n}"))
        make_citizen_user(person)
        application = apply(person)
        if n % 2:
            services.accept_transfer(application=application, actor=nb_clerk)
    with django_assert_num_queries(len(one.captured_queries)):
        assert nb_client.get(QUEUE, {"queue": "all"}).content.decode().count('class="field-number"') == 5


def test_opening_a_transfer_and_its_record_is_recorded(nb_client, submitted, nb_clerk):
    from accounts.models import PersonalDataAccess

    nb_client.get(change_url(submitted))
    [row] = PersonalDataAccess.objects.all()
    assert (row.staff, row.person, row.what) == (nb_clerk, submitted.applicant, "转移申请详情")


# Scoping after the move --------------------------------------------------------------------------


def test_after_the_transfer_each_region_lists_the_account_it_holds_and_both_the_person(
    client, completed, nb_clerk, dg_clerk
):
    # The lists scope by the region each row carries (the accounts) or by an enrolment in the clerk's regions
    # (the persons): no region key to move, so what the transfer services write is what the clerks see.
    view = Permission.objects.filter(content_type__app_label="accounts", codename__in=["view_person", "view_account"])
    person, old, new = completed.applicant, completed.old_account, completed.new_account
    accounts = reverse("admin:accounts_account_changelist")
    persons = reverse("admin:accounts_person_changelist")

    def account_link(account):
        return reverse("admin:accounts_account_change", args=[account.pk])

    for clerk, holds, not_held in ((nb_clerk, new, old), (dg_clerk, old, new)):
        clerk.user_permissions.add(*view)
        client.force_login(clerk)
        listed = client.get(accounts, {"q": person.id_number}).content.decode()
        assert account_link(holds) in listed and account_link(not_held) not in listed
        found = client.get(persons, {"q": person.id_number}).content.decode()
        assert reverse("admin:accounts_person_change", args=[person.pk]) in found
