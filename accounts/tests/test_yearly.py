"""The yearly statement (年度对账单): its figures reconcile with the ledger; page and PDF are the owner's."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import ledger, yearly
from accounts.models import CITIZENS_TIME_ZONE, Account, JournalTransaction, LedgerEntry
from accounts.services import personal_account_of, system_account
from conftest import make_citizen_user, make_employee

pytestmark = pytest.mark.django_db

Kind = JournalTransaction.Kind


def book(account, kind, amount, day, other=Account.Kind.CREDIT_SOURCE):
    source = system_account(account.region, other)
    moment = datetime.datetime.combine(day, datetime.time(10, 0), tzinfo=CITIZENS_TIME_ZONE)
    return ledger.post(
        kind=kind, lines=[ledger.Line(source, -amount), ledger.Line(account, amount)],
        description=str(kind.label), booked_at=moment,
    )


@pytest.fixture
def holder(db):
    """李秀英, whose account's every entry is booked below, in date order."""
    person = make_employee(name="李秀英", retired=True)
    make_citizen_user(person)
    return person


@pytest.fixture
def a_year_of_money(holder):
    account = personal_account_of(holder)
    book(account, Kind.OPENING, Decimal("500.00"), datetime.date(2024, 12, 31))
    for month in range(1, 13):
        book(account, Kind.CREDIT, Decimal("160.00"), datetime.date(2025, month, 1))
    payable = Account.Kind.INSTITUTIONS_PAYABLE
    book(account, Kind.SETTLEMENT, Decimal("-35.50"), datetime.date(2025, 3, 8), payable)
    book(account, Kind.SETTLEMENT, Decimal("-120.00"), datetime.date(2025, 11, 20), payable)
    book(account, Kind.REFUND, Decimal("35.50"), datetime.date(2025, 3, 9), payable)
    # Midnight on New Year's Eve in 宁波 is still 2025 there, though already 2026 nowhere else that matters.
    book(account, Kind.CREDIT, Decimal("160.00"), datetime.date(2026, 1, 1))
    account.refresh_from_db()
    return account


def test_the_year_reconciles_with_the_ledger(a_year_of_money):
    statement = yearly.yearly_statement(a_year_of_money, 2025)
    assert statement.opening == Decimal("500.00")
    assert len(statement.credits) == 12 and statement.total_credits == Decimal("1920.00")
    assert statement.money_in == [("结算退款", Decimal("35.50"))]
    assert statement.money_out == [("医药费结算", Decimal("155.50"))]
    assert statement.closing == Decimal("2300.00")
    # The closing balance is the balance after the year's last entry posted, as the ledger wrote it.
    _start, end = yearly.year_bounds(2025)
    year_entries = LedgerEntry.objects.filter(account=a_year_of_money, transaction__created_at__lt=end)
    last = year_entries.order_by("id").last()
    assert statement.closing == last.balance_after
    # The next year opens where this one closed; its closing is the balance.
    following = yearly.yearly_statement(a_year_of_money, 2026)
    assert following.opening == statement.closing
    assert following.closing == a_year_of_money.balance


def test_spending_is_the_holders_own_without_sharing(a_year_of_money):
    assert yearly.yearly_statement(a_year_of_money, 2025).for_whom == [("李秀英（本人）", Decimal("155.50"))]


def test_the_owner_reads_and_prints_the_statement(client, a_year_of_money, holder):
    client.force_login(holder.user)
    response = client.get(reverse("yearly_statement", args=[2025]))
    assert response.status_code == 200
    assert "期初余额" in response.text and "¥500.00" in response.text and "¥2,300.00" in response.text
    assert "data-print" in response.text
    pdf = client.get(reverse("yearly_statement_pdf", args=[2025]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_another_citizens_account_gets_404(client, a_year_of_money, outsider):
    client.force_login(outsider.user)
    url = reverse("yearly_statement", args=[2025])
    assert client.get(url, {"account": a_year_of_money.pk}).status_code == 404
    pdf_url = reverse("yearly_statement_pdf", args=[2025])
    assert client.get(pdf_url, {"account": a_year_of_money.pk}).status_code == 404


def test_anonymous_is_sent_to_login(client, a_year_of_money):
    assert client.get(reverse("yearly_statement", args=[2025])).status_code == 302
