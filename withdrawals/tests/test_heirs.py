"""An heir's application: only for a death recorded in the registry; the lookup tells a stranger nothing."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Account
from accounts.services import ServiceError, freeze_account, personal_account_of
from conftest import make_citizen_user, make_employee
from withdrawals import services
from withdrawals.models import WithdrawalApplication

from .conftest import reason, record_death, start, upload_all

UNIFORM = (
    "未查到可由继承人申请提取的已故参保人记录。请核对姓名和身份证号码；"
    "如尚未办理死亡登记，请携带死亡证明到医保服务大厅办理。"
)


def heir_starts_online(heir, *, name, id_number):
    """Do what the portal's form does: find the holder by name and ID number, then start."""
    holder = services.find_holder_named_by_heir(name=name, id_number=id_number)
    return start(heir, code="holder_death", holder=holder, heir_relation="child")


def refusal(call):
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value.code, caught.value.message


@pytest.fixture
def heir_form(client, outsider):
    client.force_login(outsider.user)

    def post(name, id_number):
        return client.post(
            reverse("withdrawals:start", args=["holder_death"]),
            {
                "holder_name": name, "holder_id_number": id_number, "heir_relation": "child",
                "bank_name": "中国银行", "bank_account_number": "6217000012345678", "bank_account_holder": "陈明",
            },
        )

    return post


def test_the_uniform_message_is_the_one_the_service_gives():
    assert str(services.HEIR_LOOKUP_REFUSAL) == UNIFORM


def test_a_living_holder_is_refused_with_the_uniform_message(applicant, outsider):
    call = lambda: heir_starts_online(outsider, name=applicant.name, id_number=applicant.id_number)
    assert refusal(call) == ("no_deceased_holder", UNIFORM)
    assert not WithdrawalApplication.objects.exists()


def test_a_stranger_cannot_hold_a_living_persons_account(heir_form, applicant):
    response = heir_form(applicant.name, applicant.id_number)
    assert response.status_code == 200
    assert UNIFORM in response.content.decode()
    account = personal_account_of(applicant)
    assert (account.hold, account.hold_reference) == (Account.Hold.NONE, "")
    assert not WithdrawalApplication.objects.exists()


def test_the_service_refuses_a_living_holder_even_when_handed_the_person(applicant, outsider):
    code, message = refusal(lambda: start(outsider, code="holder_death", holder=applicant, heir_relation="child"))
    assert (code, message) == ("no_deceased_holder", UNIFORM)
    assert personal_account_of(applicant).hold == Account.Hold.NONE


def test_a_recorded_death_lets_the_heir_apply(heir_form, applicant, outsider):
    record_death(applicant)
    response = heir_form(applicant.name, applicant.id_number)
    application = WithdrawalApplication.objects.get()
    assert response.status_code == 302
    assert (application.holder, application.applicant, application.heir_relation) == (applicant, outsider, "child")
    assert personal_account_of(applicant).hold_reference == application.number


def _deceased(**overrides):
    person = make_employee(balance=overrides.pop("balance", "800.00"), name="李秀英", birth="19580315")
    return record_death(person)


def _every_failure(applicant, clerk):
    """Yield (what went wrong, name typed, ID number typed) for every way the lookup can fail."""
    yield "living", applicant.name, applicant.id_number
    yield "wrong name", "某某", applicant.id_number
    yield "unknown number", "某某", "110101199003078515"
    empty = _deceased(balance=0)
    yield "no money", empty.name, empty.id_number
    frozen = _deceased()
    freeze_account(account=personal_account_of(frozen), actor=clerk, reason="司法冻结")
    yield "frozen", frozen.name, frozen.id_number
    held = _deceased()
    heir = make_employee(name="王强")
    make_citizen_user(heir)
    start(heir, code="holder_death", holder=held, heir_relation="spouse")
    yield "another heir applied", held.name, held.id_number


def test_every_failure_of_the_lookup_reads_the_same_on_the_page(heir_form, applicant, reviewer):
    summaries = {}
    for what, name, id_number in _every_failure(applicant, reviewer):
        html = heir_form(name, id_number).content.decode()
        assert UNIFORM in html, what
        summaries[what] = re.search(r'<div class="error-summary".*?</div>', html, re.DOTALL).group(0)
    assert len(set(summaries.values())) == 1, summaries
    # Only the other heir's draft exists; nothing was opened by the probes.
    assert WithdrawalApplication.objects.count() == 1


def test_the_holder_cannot_name_himself_as_deceased(applicant):
    record_death(applicant)
    code, _message = refusal(lambda: start(applicant, code="holder_death", heir_relation="child"))
    assert code == "heir_is_holder"


def test_a_holder_recorded_dead_cannot_withdraw_for_another_reason(stopped_applicant):
    record_death(stopped_applicant)
    code, message = refusal(lambda: start(stopped_applicant))
    assert code == "holder_deceased"
    assert "继承人" in message


def test_at_the_counter_the_clerk_is_told_the_death_is_not_recorded(applicant, outsider, desk_reviewer):
    code, message = refusal(lambda: services.start_counter_withdrawal(
        clerk=desk_reviewer, reason=reason("holder_death"), applicant_id_number=outsider.id_number, holder_id_number=applicant.id_number, heir_relation="child",
        bank_name="中国银行", bank_account_number="6217000012345678", bank_account_holder="陈明",
    ))
    assert code == "holder_not_deceased"
    assert "死亡" in message


def test_approval_is_refused_when_the_death_record_was_withdrawn(applicant, outsider, desk_reviewer, desk_approver):
    record_death(applicant)
    application = upload_all(start(outsider, code="holder_death", holder=applicant, heir_relation="child"))
    services.submit_withdrawal(application=application, actor=outsider.user, declaration_accepted=True)
    services.first_review_withdrawal(application=application, actor=desk_reviewer)
    applicant.died_on = None
    applicant.save(update_fields=["died_on"])
    code, _message = refusal(lambda: services.approve_withdrawal(application=application, actor=desk_approver))
    assert code == "holder_not_deceased"
    assert personal_account_of(applicant).balance == Decimal("2000.00")
