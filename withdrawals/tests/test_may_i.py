"""may_withdraw answers before any form what start_withdrawal then does, for each demo person."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Enrolment, Person
from accounts.services import ServiceError, stop_enrolment
from withdrawals import services
from withdrawals.models import WithdrawalReason

WANG_FANG = "330203198702140028"
LI_XIUYING = "330203195803150045"
ABROAD = "settle_abroad"


@pytest.fixture
def demo(db):
    call_command("seed_demo", force=True, stdout=io.StringIO())


def person(id_number):
    return Person.objects.get(id_number=id_number)


def start(applicant, reason):
    return services.start_withdrawal(
        applicant=applicant, reason=reason, actor=applicant.user, bank_name="中国银行",
        bank_account_number="6217000000000001", bank_account_holder=applicant.name,
    )


def outcome(applicant, reason):
    """What the service does: None when it starts the application, else the refusal's code."""
    try:
        start(applicant, reason)
    except ServiceError as refusal:
        return refusal.code
    return None


def stop(applicant):
    stop_enrolment(enrolment=applicant.enrolments.get(status=Enrolment.Status.ACTIVE))


@pytest.mark.parametrize(
    ("who", "setup", "code"),
    [
        pytest.param(WANG_FANG, None, "enrolment_active", id="insured"),
        pytest.param(WANG_FANG, stop, None, id="stopped"),
        pytest.param(LI_XIUYING, None, "enrolment_active", id="retired"),
        pytest.param(WANG_FANG, lambda p: (stop(p), start(p, WithdrawalReason.objects.get(code=ABROAD))),
                     "account_on_hold", id="already-open"),
    ],
)
def test_the_answer_equals_what_the_service_then_does(demo, who, setup, code):
    applicant = person(who)
    if setup:
        setup(applicant)
    reason = WithdrawalReason.objects.get(code=ABROAD)
    answer = services.may_withdraw(applicant=applicant, reason=reason)
    assert (answer.allowed, answer.code or None) == (code is None, code)
    assert outcome(applicant, reason) == code


def test_a_retiree_is_told_to_stop_at_the_hall_not_by_an_employer(demo):
    abroad = WithdrawalReason.objects.get(code=ABROAD)
    answer = services.may_withdraw(applicant=person(LI_XIUYING), reason=abroad)
    assert "退休人员" in answer.message and "用人单位" not in answer.message


def test_an_open_application_is_linked_from_the_answer(demo):
    applicant = person(WANG_FANG)
    stop(applicant)
    application = start(applicant, WithdrawalReason.objects.get(code=ABROAD))
    answer = services.may_withdraw(applicant=applicant, reason=WithdrawalReason.objects.get(code=ABROAD))
    assert answer.link == reverse("withdrawals:detail", args=[application.pk])
    assert application.number in answer.message


def test_wang_fang_insured_sees_why_before_any_form(client, demo):
    client.force_login(person(WANG_FANG).user)
    html = client.get(reverse("withdrawals:choose_reason")).text
    assert "您目前还不能为本人申请提取" in html and "仍在参保中" in html
    assert reverse("withdrawals:start", args=[ABROAD]) not in html
    page = client.get(reverse("withdrawals:start", args=[ABROAD])).text
    assert "仍在参保中" in page and 'name="bank_account_number"' not in page


def test_a_stopped_citizen_is_offered_the_form(client, demo):
    applicant = person(WANG_FANG)
    stop(applicant)
    client.force_login(applicant.user)
    choices = client.get(reverse("withdrawals:choose_reason")).text
    assert reverse("withdrawals:start", args=[ABROAD]) in choices
    assert 'name="bank_account_number"' in client.get(reverse("withdrawals:start", args=[ABROAD])).text
