"""Submitting a transfer needs the reserved phone proven in 10 minutes; the ID-card photo is carried on too."""

import pytest
from django.urls import reverse

from accounts import sms
from review.materials import materials_of
from transfers.models import TransferApplication

from .test_views import form_data, owner  # noqa: F401  (fixtures and helpers)

pytestmark = pytest.mark.real_login


def test_applying_asks_for_the_code_then_files_the_application_with_its_photo(owner, moving):
    asked = owner.post(reverse("transfers:apply"), form_data())

    assert asked.templates[0].name == "accounts/step_up.html"
    assert not TransferApplication.objects.exists()
    done = owner.post(reverse("transfers:apply"), {"step_up": "1", "code": sms.outbox[-1].code})

    application = TransferApplication.objects.get()
    assert done.status_code == 302
    assert application.applicant == moving
    [photo] = materials_of(application)
    assert photo.original_name == "身份证.png"


def test_a_wrong_code_files_nothing(owner, moving):
    owner.post(reverse("transfers:apply"), form_data())
    code = sms.outbox[-1].code
    owner.post(reverse("transfers:apply"), {"step_up": "1", "code": "000000" if code != "000000" else "111111"})
    assert not TransferApplication.objects.exists()
