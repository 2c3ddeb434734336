"""may_bind and may_top_up answer before any form what the services then do."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.services import ServiceError, stop_enrolment
from conftest import set_policy
from sharing import bindings

from .family import *  # noqa: F403


def outcome(call):
    try:
        call()
    except ServiceError as refusal:
        return refusal.code
    return None


@pytest.mark.parametrize(
    ("when", "code"),
    [
        pytest.param(at(10), None, id="by-day"),
        pytest.param(at(22, 49), "quiet_hours", id="quiet-hours"),
        pytest.param(at(5, 59), "quiet_hours", id="before-six"),
    ],
)
def test_top_up_answer_equals_what_the_service_then_does(quota_binding, when, code):
    answer = bindings.may_top_up(binding=quota_binding, now=when)
    assert (answer.allowed, answer.code or None) == (code is None, code)
    top_up = lambda: bindings.top_up_quota(  # noqa: E731
        binding=quota_binding, amount=Decimal("10.00"), actor=quota_binding.payer.user, now=when
    )
    assert outcome(top_up) == code


def test_quiet_hours_say_when_top_ups_reopen(quota_binding):
    assert "06:00以后" in bindings.may_top_up(binding=quota_binding, now=at(22, 49)).message


def test_a_used_up_day_is_said_before_the_form(quota_binding):
    for hour in (9, 10, 11):
        bindings.top_up_quota(binding=quota_binding, amount=Decimal("1.00"), actor=quota_binding.payer.user,
                              now=at(hour))
    answer = bindings.may_top_up(binding=quota_binding, now=at(12))
    assert (answer.allowed, answer.code) == (False, "too_many_topups")


def test_a_direct_binding_is_never_offered_the_top_up_form(client, direct_binding):
    client.force_login(direct_binding.payer.user)
    html = client.get(reverse("sharing:top_up", args=[direct_binding.pk])).text
    assert "现在不能划拨" in html and 'name="amount"' not in html


def test_bind_answer_equals_what_the_service_then_does(payer, child, spouse):
    assert bindings.may_bind(payer=payer, now=NOW)
    set_policy(max_sharing_relatives=1, since=NOW.date().replace(day=1))
    bind(payer, child)
    answer = bindings.may_bind(payer=payer, now=NOW)
    assert (answer.allowed, answer.code) == (False, "too_many_relatives")
    assert outcome(lambda: bind(payer, spouse, relation="spouse")) == "too_many_relatives"


def test_a_stopped_payer_is_told_before_the_form(client, payer):
    stop_enrolment(enrolment=payer.enrolments.get())
    answer = bindings.may_bind(payer=payer)
    assert not answer.allowed and answer.code == "not_a_payer"
    client.force_login(payer.user)
    html = client.get(reverse("sharing:bind")).text
    assert answer.message in html and 'name="relative_id_number"' not in html
