"""Submitting a withdrawal and changing its bank account need the reserved phone proven in 10 minutes."""

import pytest
from django.urls import reverse

from accounts import sms
from withdrawals.models import WithdrawalApplication

from .conftest import refreshed, upload_all
from .test_views import draft, owner  # noqa: F401  (fixtures)

pytestmark = pytest.mark.real_login
Status = WithdrawalApplication.Status


def test_submitting_asks_for_the_code_then_submits(owner, draft):
    upload_all(draft)
    path = reverse("withdrawals:submit", args=[draft.pk])

    asked = owner.post(path, {"declaration": "on"})

    assert asked.templates[0].name == "accounts/step_up.html"
    assert refreshed(draft).status == Status.DRAFT
    done = owner.post(path, {"step_up": "1", "code": sms.outbox[-1].code})
    assert done.status_code == 302
    assert refreshed(draft).status == Status.SUBMITTED


def test_changing_the_bank_account_asks_for_the_code_and_keeps_what_was_typed(owner, draft):
    path = reverse("withdrawals:change_bank", args=[draft.pk])
    typed = {"bank_name": "中国银行", "bank_account_number": "6217 0000 1234 5678", "bank_account_holder": "张伟"}

    asked = owner.post(path, typed)

    assert asked.templates[0].name == "accounts/step_up.html"
    assert refreshed(draft).bank_account_number != "6217000012345678"
    owner.post(path, {"step_up": "1", "code": sms.outbox[-1].code})
    assert refreshed(draft).bank_account_number == "6217000012345678"


def test_opening_the_bank_page_needs_no_code(owner, draft):
    assert owner.get(reverse("withdrawals:change_bank", args=[draft.pk])).status_code == 200
    assert not sms.outbox
