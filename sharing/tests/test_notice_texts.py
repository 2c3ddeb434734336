"""Every notice of family sharing says what it is: one full stop, a button only where action is asked."""

from decimal import Decimal

from conftest import assert_notices_say_what_they_are
from sharing import bindings
from sharing.models import Binding

from .family import *  # noqa: F403


def test_a_request_confirmed_topped_up_and_ended(client, payer, spouse):
    binding = bind(payer, spouse, relation="spouse", way="quota")
    assert binding.status == Binding.Status.PENDING
    bindings.confirm_binding(binding=binding, actor=spouse.user, now=NOW)
    bindings.top_up_quota(binding=binding, amount=Decimal("100.00"), actor=payer.user, now=NOW)
    bindings.end_binding(binding=binding, actor=payer.user, reason=Binding.EndReason.PAYER, now=NOW)
    assert_notices_say_what_they_are(client)


def test_a_request_declined(client, payer, spouse):
    binding = bind(payer, spouse, relation="spouse")
    bindings.decline_binding(binding=binding, actor=spouse.user, now=NOW)
    assert_notices_say_what_they_are(client)
