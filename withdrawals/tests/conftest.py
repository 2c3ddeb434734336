"""Fixtures for the withdrawal tests: a stopped employee, clerks with the desk's permissions, complete drafts."""

import datetime
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.services import stop_enrolment
from withdrawals import services
from withdrawals.models import WithdrawalApplication, WithdrawalReason

REVIEWER_PERMISSIONS = ("view_withdrawalapplication", "add_withdrawalapplication", "review_withdrawal")
APPROVER_PERMISSIONS = ("view_withdrawalapplication", "approve_withdrawal", "pay_withdrawal")


def grant(user, *codenames):
    """Give `user` withdrawal permissions and forget the cached ones."""
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="withdrawals", codename__in=codenames)
    )
    for cache in ("_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


def png_upload(name="身份证.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "white").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def reason(code="settle_abroad"):
    return WithdrawalReason.objects.get(code=code)


def record_death(person, day=datetime.date(2026, 10, 8)):
    """Record the person's death as a clerk does from the death certificate."""
    person.died_on = day
    person.save(update_fields=["died_on"])
    return person


def stop(person):
    enrolment = person.enrolments.get(status="active")
    return stop_enrolment(enrolment=enrolment)


def start(applicant, *, code="settle_abroad", **overrides):
    """Start a draft for `applicant` with sensible bank details."""
    fields = {
        "applicant": applicant,
        "reason": reason(code),
        "actor": applicant.user,
        "bank_name": "中国工商银行宁波分行",
        "bank_account_number": "6222021234567890123",
        "bank_account_holder": applicant.name,
    }
    fields.update(overrides)
    return services.start_withdrawal(**fields)


def upload_all(application, actor=None):
    """Upload one file for every material kind still missing (required, or named by a return)."""
    for kind in services.missing_kinds(application):
        services.add_withdrawal_material(
            application=application, kind=kind, uploaded_file=png_upload(), actor=actor or application.applicant.user
        )
    return application


def submitted(applicant, **overrides):
    application = upload_all(start(applicant, **overrides))
    return services.submit_withdrawal(application=application, actor=applicant.user, declaration_accepted=True)


def refreshed(application):
    return WithdrawalApplication.objects.get(pk=application.pk)


@pytest.fixture(autouse=True)
def _materials_in_tmp(storage):
    """Every withdrawal test keeps its uploads out of the project (the root `storage` fixture)."""


@pytest.fixture
def stopped_applicant(applicant):
    """张伟, whose employee enrolment has stopped, with ¥2,000.00 in his account."""
    stop(applicant)
    return applicant


@pytest.fixture
def desk_reviewer(reviewer):
    return grant(reviewer, *REVIEWER_PERMISSIONS)


@pytest.fixture
def desk_approver(approver):
    return grant(approver, *APPROVER_PERMISSIONS)


@pytest.fixture
def first_reviewed(stopped_applicant, desk_reviewer):
    application = submitted(stopped_applicant)
    return services.first_review_withdrawal(application=application, actor=desk_reviewer)


@pytest.fixture
def approved(first_reviewed, desk_approver):
    return services.approve_withdrawal(application=first_reviewed, actor=desk_approver)


@pytest.fixture
def paid(approved, desk_approver):
    return services.confirm_payout_withdrawal(
        application=approved, actor=desk_approver, voucher_number="B2026120500017",
        paid_on=timezone.localdate(),
    )


@pytest.fixture
def reviewer_client(client, desk_reviewer):
    client.force_login(desk_reviewer)
    return client


@pytest.fixture
def approver_client(client, desk_approver):
    client.force_login(desk_approver)
    return client
