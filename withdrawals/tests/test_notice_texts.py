"""Every notice of a withdrawal says what it is: one full stop, a button only where action is asked."""

import pytest

from conftest import assert_notices_say_what_they_are
from withdrawals import services

pytestmark = pytest.mark.django_db


def test_a_paid_withdrawals_notices(client, paid):
    assert_notices_say_what_they_are(client)


def test_a_refusal_whose_reason_ends_in_a_full_stop(client, first_reviewed, desk_approver):
    services.refuse_withdrawal(application=first_reviewed, actor=desk_approver, reason="定居证明与本人不符。")
    assert_notices_say_what_they_are(client)


def test_a_returned_withdrawals_notices(client, first_reviewed, desk_approver):
    services.return_withdrawal(
        application=first_reviewed, actor=desk_approver, missing_kinds=[], note="请补充清晰的定居证明。"
    )
    assert_notices_say_what_they_are(client)
