"""Money and records: the balance through transit once, the years added up, accounts used province-wide."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts import ledger
from accounts.models import Account, Enrolment, JournalTransaction, LedgerEntry, Province
from accounts.services import freeze_account, personal_account_of, system_account, unfreeze_account
from conftest import fund, make_citizen_user, make_employee, make_staff, region
from transfers import services
from transfers.models import TransferApplication

from .conftest import DONGGUAN, HANGZHOU, NINGBO, apply, enrol, grant, move, refreshed, stop

pytestmark = pytest.mark.django_db

Kind = JournalTransaction.Kind


def transit(code=DONGGUAN):
    return system_account(region(code), Account.Kind.TRANSIT)


def audit_ledger_passes():
    call_command("audit_ledger", stdout=io.StringIO())
    assert ledger.audit() == []


def test_transfer_out_moves_the_whole_balance_into_the_old_regions_transit_once(transferred_out):
    row = refreshed(transferred_out)
    assert row.amount == Decimal("1500.00")
    assert row.old_account.balance == Decimal("0.00")
    assert row.old_account.status == Account.Status.TRANSFERRED_OUT
    assert row.old_enrolment.status == Enrolment.Status.TRANSFERRED_OUT
    assert transit().balance == Decimal("1500.00")
    journal = JournalTransaction.objects.get(kind=Kind.TRANSFER_OUT)
    assert journal == row.out_journal and journal.idempotency_key == f"transfer-out:{row.pk}"
    amounts = sorted(journal.entries.values_list("amount", flat=True))
    assert amounts == [Decimal("-1500.00"), Decimal("1500.00")]
    assert row.contribution_months == 120
    audit_ledger_passes()


def test_transfer_in_moves_the_same_amount_from_transit_and_adds_the_years(completed):
    row = refreshed(completed)
    assert row.new_account.balance == Decimal("1500.00")
    assert transit().balance == Decimal("0.00")
    journal = JournalTransaction.objects.get(kind=Kind.TRANSFER_IN)
    assert journal == row.in_journal and journal.idempotency_key == f"transfer-in:{row.pk}"
    assert {(e.account_id, e.amount) for e in journal.entries.all()} == {
        (transit().pk, Decimal("-1500.00")), (row.new_account_id, Decimal("1500.00")),
    }
    assert row.new_enrolment.contribution_months == 120
    assert personal_account_of(row.applicant).pk == row.new_account_id
    audit_ledger_passes()


def test_contribution_years_add_up(outsider, nb_clerk, dg_clerk):
    move(outsider, months=7)
    application = apply(outsider)
    for step in (services.accept_transfer, services.transfer_out, services.transfer_in):
        step(application=application, actor=dg_clerk if step is services.transfer_out else nb_clerk)
    assert refreshed(application).new_enrolment.contribution_months == 127


def test_a_credit_that_lands_after_acceptance_moves_too(accepted, dg_clerk):
    fund(accepted.old_account, Decimal("140.00"))
    services.transfer_out(application=accepted, actor=dg_clerk)
    assert refreshed(accepted).amount == Decimal("1640.00")
    assert transit().balance == Decimal("1640.00")


def test_transfer_in_takes_exactly_its_own_amount_from_a_shared_transit(transferred_out, nb_clerk, dg_clerk):
    other = move(make_employee(balance="300.00", region_code=DONGGUAN, name="李四"))
    make_citizen_user(other)
    second = apply(other)
    services.accept_transfer(application=second, actor=nb_clerk)
    services.transfer_out(application=second, actor=dg_clerk)
    assert transit().balance == Decimal("1800.00")
    services.transfer_in(application=transferred_out, actor=nb_clerk)
    assert transit().balance == Decimal("300.00")
    assert refreshed(transferred_out).new_account.balance == Decimal("1500.00")


def test_an_empty_account_transfers_its_relationship_without_a_posting(db, nb_clerk, dg_clerk):
    person = move(make_employee(region_code=DONGGUAN, name="赵六"))
    make_citizen_user(person)
    application = apply(person)
    services.accept_transfer(application=application, actor=nb_clerk)
    services.transfer_out(application=application, actor=dg_clerk)
    services.transfer_in(application=application, actor=nb_clerk)
    row = refreshed(application)
    assert (row.status, row.amount) == ("completed", Decimal("0.00"))
    assert (row.out_journal, row.in_journal) == (None, None)
    assert row.old_account.status == Account.Status.TRANSFERRED_OUT
    assert not JournalTransaction.objects.filter(kind__in=[Kind.TRANSFER_OUT, Kind.TRANSFER_IN]).exists()


def test_a_second_click_on_a_page_loaded_before_the_first_moves_nothing(accepted, dg_clerk):
    stale = refreshed(accepted)
    services.transfer_out(application=accepted, actor=dg_clerk)
    with pytest.raises(services.REFUSALS) as refused:
        services.transfer_out(application=stale, actor=dg_clerk)
    assert refused.value.code == "already_handled"
    assert JournalTransaction.objects.filter(kind=Kind.TRANSFER_OUT).count() == 1
    assert LedgerEntry.objects.filter(account=accepted.old_account, amount__lt=0).count() == 1


def test_a_frozen_new_account_stops_transfer_in_with_the_money_kept_in_transit(transferred_out, nb_clerk):
    freeze_account(account=transferred_out.new_account, actor=nb_clerk, reason="核查")
    with pytest.raises(services.ServiceError) as refused:
        services.transfer_in(application=transferred_out, actor=nb_clerk)
    assert refused.value.code == "account_unavailable"
    row = refreshed(transferred_out)
    assert row.status == TransferApplication.Status.TRANSFERRED_OUT
    assert transit().balance == Decimal("1500.00")
    assert row.new_enrolment.contribution_months == 0
    audit_ledger_passes()


def test_the_years_reach_the_new_employers_enrolment_after_a_job_change_in_the_new_region(
    transferred_out, nb_clerk
):
    person = transferred_out.applicant
    stop(person)  # the first 宁波 job ends between 转出 and 转入; the next one starts at once
    enrol(person, NINGBO, months=3)
    current = person.enrolments.get(status=Enrolment.Status.ACTIVE)
    assert Account.objects.get(pk=transferred_out.new_account_id).enrolment == current
    services.transfer_in(application=refreshed(transferred_out), actor=nb_clerk)
    row = refreshed(transferred_out)
    assert Enrolment.objects.get(pk=current.pk).contribution_months == 123
    assert row.new_enrolment == current and row.new_account.balance == Decimal("1500.00")
    assert "缴费年限累计123个月" in person.notices.get(title="转移接续已办结").body


def test_the_citizens_account_page_shows_the_balance_in_the_new_region(client, completed):
    client.force_login(completed.applicant.user)
    html = client.get("/account/").content.decode()
    assert "¥1,500.00" in html and "宁波市" in html


# Accounts used province-wide -----------------------------------------------------------------------


@pytest.fixture
def zhang_wei_moves_to_hangzhou(applicant):
    """张伟 (¥2,000.00 in 宁波) stops in 宁波 and is enrolled in 杭州: both in 浙江, accounts province-wide."""
    assert Province.objects.get(code="33").accounts_province_wide
    return move(applicant, to=HANGZHOU, months=2)


@pytest.fixture
def hz_clerk(db):
    return grant(make_staff("clerk_hz", HANGZHOU))


def test_within_a_province_wide_province_the_account_goes_along_and_no_money_moves(
    zhang_wei_moves_to_hangzhou, hz_clerk, nb_clerk
):
    person = zhang_wei_moves_to_hangzhou
    account = personal_account_of(person)
    assert Account.objects.filter(kind=Account.Kind.PERSONAL, enrolment__person=person).count() == 1
    assert (account.region.code, account.enrolment.region.code) == (NINGBO, HANGZHOU)
    assert account.balance == Decimal("2000.00")
    entries_before = LedgerEntry.objects.count()

    application = apply(person, old=NINGBO, new=HANGZHOU)
    assert application.province_wide
    assert application.old_account_id == application.new_account_id == account.pk
    services.accept_transfer(application=application, actor=hz_clerk)
    services.transfer_out(application=application, actor=nb_clerk)
    assert refreshed(application).amount is None
    services.transfer_in(application=application, actor=hz_clerk)

    row = refreshed(application)
    assert row.status == TransferApplication.Status.COMPLETED
    assert LedgerEntry.objects.count() == entries_before
    assert not JournalTransaction.objects.filter(kind__in=[Kind.TRANSFER_OUT, Kind.TRANSFER_IN]).exists()
    account.refresh_from_db()
    assert (account.region.code, account.status, account.balance, account.hold) == (
        HANGZHOU, Account.Status.ACTIVE, Decimal("2000.00"), ""
    )
    assert row.old_enrolment.status == Enrolment.Status.TRANSFERRED_OUT
    assert (row.contribution_months, row.new_enrolment.contribution_months) == (120, 122)
    audit_ledger_passes()


def test_the_account_page_shows_the_new_region(client, zhang_wei_moves_to_hangzhou, hz_clerk, nb_clerk):
    person = zhang_wei_moves_to_hangzhou
    application = apply(person, old=NINGBO, new=HANGZHOU)
    for step, clerk in ((services.accept_transfer, hz_clerk), (services.transfer_out, nb_clerk),
                        (services.transfer_in, hz_clerk)):
        step(application=application, actor=clerk)
    client.force_login(person.user)
    html = client.get("/account/").content.decode()
    assert "¥2,000.00" in html and "杭州市" in html


def test_without_province_wide_accounts_money_moves_within_the_province(applicant, nb_clerk):
    Province.objects.filter(code="33").update(accounts_province_wide=False)
    move(applicant, to=HANGZHOU)
    hz_clerk = grant(make_staff("clerk_hz", HANGZHOU))
    application = apply(applicant, old=NINGBO, new=HANGZHOU)
    assert not application.province_wide
    services.accept_transfer(application=application, actor=hz_clerk)
    services.transfer_out(application=application, actor=nb_clerk)
    services.transfer_in(application=application, actor=hz_clerk)
    row = refreshed(application)
    assert row.amount == Decimal("2000.00") and row.new_account.balance == Decimal("2000.00")
    assert row.new_account.region.code == HANGZHOU
    audit_ledger_passes()


def test_a_province_wide_account_frozen_after_transfer_out_keeps_its_region_until_unfrozen(
    zhang_wei_moves_to_hangzhou, hz_clerk, nb_clerk
):
    application = apply(zhang_wei_moves_to_hangzhou, old=NINGBO, new=HANGZHOU)
    services.accept_transfer(application=application, actor=hz_clerk)
    services.transfer_out(application=application, actor=nb_clerk)
    freeze_account(account=application.old_account, actor=nb_clerk, reason="司法冻结")
    with pytest.raises(services.ServiceError) as refused:
        services.transfer_in(application=refreshed(application), actor=hz_clerk)
    assert refused.value.code == "account_unavailable"
    row = refreshed(application)
    # The freeze stays with 宁波, whose clerks made it and alone can lift it; the transfer waits.
    assert row.status == TransferApplication.Status.TRANSFERRED_OUT
    assert (row.new_account.region.code, row.new_account.status) == (NINGBO, Account.Status.FROZEN)
    assert row.new_enrolment.contribution_months == 2
    unfreeze_account(account=row.new_account, actor=nb_clerk, reason="解除冻结")
    services.transfer_in(application=refreshed(application), actor=hz_clerk)
    assert refreshed(application).new_account.region.code == HANGZHOU
