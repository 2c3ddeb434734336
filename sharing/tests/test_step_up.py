"""Binding a relative, topping up a quota and paying a premium need the reserved phone proven in 10 minutes."""

import time

import pytest
from django.urls import reverse

from accounts import phone_codes, sms, step_up
from accounts.models import PhoneCode
from sharing.models import Binding, PremiumPayment, QuotaTopUp

from .family import *  # noqa: F403  (the family fixtures)

pytestmark = [pytest.mark.real_login, pytest.mark.django_db]


@pytest.fixture
def as_payer(client, payer):
    client.force_login(payer.user)
    return client


def bind_form(child):
    return {
        "relative_name": child.name, "relative_id_number": child.id_number, "relation": "child",
        "way": "direct", "promise": "on",
    }


def enter(client, path, code):
    return client.post(path, {"step_up": "1", "code": code})


def test_binding_asks_for_a_code_then_carries_on_with_what_was_entered(as_payer, payer, child):
    asked = as_payer.post(reverse("sharing:bind"), bind_form(child))

    assert asked.status_code == 200
    assert asked.templates[0].name == "accounts/step_up.html"
    assert f"尾号{payer.phone[-4:]}" in asked.text
    [message] = sms.outbox
    assert (message.to, message.purpose) == (payer.phone, "step_up")
    assert not Binding.objects.exists()

    done = enter(as_payer, reverse("sharing:bind"), message.code)

    binding = Binding.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("sharing:detail", args=[binding.pk])
    assert (binding.relative, binding.relation) == (child, "child")


def test_a_wrong_code_moves_nothing_and_asks_again(as_payer, child):
    as_payer.post(reverse("sharing:bind"), bind_form(child))
    code = sms.outbox[-1].code
    wrong = "000000" if code != "000000" else "111111"

    answer = enter(as_payer, reverse("sharing:bind"), wrong)

    assert answer.context["form"].errors["code"] == [str(phone_codes.CODE_REFUSED)]
    assert not Binding.objects.exists()
    assert enter(as_payer, reverse("sharing:bind"), code).status_code == 302
    assert Binding.objects.count() == 1


def test_a_code_for_another_purpose_is_refused(as_payer, payer, child):
    as_payer.post(reverse("sharing:bind"), bind_form(child))
    PhoneCode.objects.update(purpose=PhoneCode.Purpose.PASSWORD_RESET)
    enter(as_payer, reverse("sharing:bind"), sms.outbox[-1].code)
    assert not Binding.objects.exists()


def test_within_ten_minutes_no_new_code_is_asked(as_payer, child, direct_binding):
    premium = reverse("sharing:premium", args=[direct_binding.pk, "resident"])
    as_payer.post(premium)
    enter(as_payer, premium, sms.outbox[-1].code)
    top_up_page = as_payer.post(reverse("sharing:bind"), bind_form(child))
    assert top_up_page.templates[0].name != "accounts/step_up.html"
    assert len(sms.outbox) == 1


def test_after_ten_minutes_a_new_code_is_asked(as_payer, direct_binding):
    premium = reverse("sharing:premium", args=[direct_binding.pk, "resident"])
    as_payer.post(premium)
    enter(as_payer, premium, sms.outbox[-1].code)
    session = as_payer.session
    session[step_up.PROVEN_AT] = time.time() - step_up.WINDOW_SECONDS - 1
    session.save()

    asked = as_payer.post(reverse("sharing:premium", args=[direct_binding.pk, "ltc"]))

    assert asked.templates[0].name == "accounts/step_up.html"


def test_a_top_up_needs_the_code_and_then_shows_its_confirmation(as_payer, funded_quota):
    path = reverse("sharing:top_up", args=[funded_quota.pk])
    asked = as_payer.post(path, {"amount": "100.00"})
    assert asked.templates[0].name == "accounts/step_up.html"
    carried_on = enter(as_payer, path, sms.outbox[-1].code)
    assert carried_on.templates[0].name in ("sharing/top_up_confirm.html", "sharing/top_up.html")
    assert carried_on.context["form"]["amount"].value() == "100.00"
    assert QuotaTopUp.objects.filter(binding=funded_quota).count() == 1


def test_paying_a_premium_needs_the_code(as_payer, direct_binding):
    path = reverse("sharing:premium", args=[direct_binding.pk, "resident"])
    asked = as_payer.post(path)
    assert asked.templates[0].name == "accounts/step_up.html"
    assert not PremiumPayment.objects.exists()
    enter(as_payer, path, sms.outbox[-1].code)
    assert PremiumPayment.objects.filter(binding=direct_binding).count() == 1


def test_the_forms_open_without_a_code(as_payer, funded_quota):
    assert as_payer.get(reverse("sharing:bind")).templates[0].name == "sharing/bind.html"
    assert as_payer.get(reverse("sharing:top_up", args=[funded_quota.pk])).status_code == 200
    assert not sms.outbox


def test_a_second_code_request_within_sixty_seconds_is_refused_on_the_page(as_payer, child):
    as_payer.post(reverse("sharing:bind"), bind_form(child))
    again = as_payer.post(reverse("sharing:bind"), {"step_up": "1", "resend": "1"})
    assert "秒后再重新获取" in again.text
    assert len(sms.outbox) == 1


def test_another_citizen_cannot_use_a_code_sent_to_the_payer(client, payer, outsider, funded_quota):
    client.force_login(payer.user)
    client.post(reverse("sharing:bind"), {})
    code = sms.outbox[-1].code
    client.force_login(outsider.user)
    path = reverse("sharing:top_up", args=[funded_quota.pk])
    client.post(path, {"amount": "100.00"})
    answer = client.post(path, {"step_up": "1", "code": code})
    assert answer.status_code in (200, 404)
    assert QuotaTopUp.objects.filter(binding=funded_quota).count() == 1


def test_a_kept_request_is_never_carried_on_at_another_address(as_payer, child, direct_binding):
    # The code proves the phone, but what was kept for binding must not become a premium payment.
    as_payer.post(reverse("sharing:bind"), bind_form(child))
    premium = reverse("sharing:premium", args=[direct_binding.pk, "resident"])
    bindings_before = Binding.objects.count()

    answer = enter(as_payer, premium, sms.outbox[-1].code)

    assert answer.status_code == 302 and answer["Location"] == premium
    assert not PremiumPayment.objects.exists()
    assert Binding.objects.count() == bindings_before
