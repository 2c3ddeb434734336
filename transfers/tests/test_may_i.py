"""may_transfer answers before any form what apply_for_transfer then does, for the demo people."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Person, Region
from accounts.services import ServiceError
from transfers import services
from transfers.models import TransferApplication

LI_XIUYING = "330203195803150045"
CHEN_MING = "441900199008083318"


@pytest.fixture
def demo(db, storage):
    call_command("seed_demo", force=True, stdout=io.StringIO())


def outcome(applicant, old_code, new_code):
    try:
        services.apply_for_transfer(
            applicant=applicant, old_region=Region.objects.get(code=old_code),
            new_region=Region.objects.get(code=new_code), reason=TransferApplication.Reason.WORK,
            actor=applicant.user, id_card=SimpleUploadedFile("id.pdf", b"%PDF-1.4\n%%EOF\n"),
        )
    except ServiceError as refusal:
        return refusal.code
    return None


@pytest.mark.parametrize(
    ("who", "old", "new", "code"),
    [
        pytest.param(LI_XIUYING, "441900", "330200", "retiree", id="retired"),
        pytest.param(CHEN_MING, "330200", "441900", "no_old_enrolment", id="still-insured-nothing-stopped"),
    ],
)
def test_the_answer_equals_what_the_service_then_does(demo, who, old, new, code):
    applicant = Person.objects.get(id_number=who)
    answer = services.may_transfer(
        person=applicant, old_region=Region.objects.get(code=old), new_region=Region.objects.get(code=new)
    )
    assert (answer.allowed, answer.code) == (False, code)
    assert outcome(applicant, old, new) == code


def test_li_xiuying_is_pointed_to_the_off_site_filing_before_any_form(client, demo):
    client.force_login(Person.objects.get(id_number=LI_XIUYING).user)
    html = client.get(reverse("transfers:apply")).text
    assert "退休人员不办理医保关系转移接续" in html and "异地安置备案" in html
    assert 'name="id_card"' not in html
