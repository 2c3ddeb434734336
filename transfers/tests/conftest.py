"""Fixtures for the transfer tests: 陈明 moving from 东莞 to 宁波, clerks of both regions, each step taken."""

import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Enrolment
from accounts.services import record_enrolment, stop_enrolment
from conftest import region
from transfers import services
from transfers.models import TransferApplication

DESK_PERMISSIONS = (
    "view_transferapplication", "add_transferapplication", "accept_transfer", "transfer_out", "transfer_in",
)
DONGGUAN, NINGBO, HANGZHOU = "441900", "330200", "330100"
EMPLOYEE = Enrolment.InsuranceType.EMPLOYEE


def grant(user, *codenames):
    """Give `user` transfer permissions and forget the cached ones."""
    permissions = Permission.objects.filter(
        content_type__app_label="transfers", codename__in=codenames or DESK_PERMISSIONS
    )
    user.user_permissions.add(*permissions)
    for cache in ("_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


def png_upload(name="身份证.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 25), "lightblue").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def stop(person):
    return stop_enrolment(enrolment=person.enrolments.get(status=Enrolment.Status.ACTIVE))


def enrol(person, region_code=NINGBO, *, retired=False, months=0, insurance_type=EMPLOYEE):
    """Record the enrolment a new employer made, as a clerk does in the admin."""
    if insurance_type != EMPLOYEE:
        employment, base = "", None
    elif retired:
        employment, base = Enrolment.Employment.RETIRED, None
    else:
        employment, base = Enrolment.Employment.IN_SERVICE, Decimal("7500.00")
    return record_enrolment(
        person=person, region=region(region_code), insurance_type=insurance_type, employment=employment,
        contribution_base=base, contribution_months=months,
    )


def move(person, to=NINGBO, **enrol_options):
    """Stop the person's active enrolment and enrol them in `to`: what must happen before a transfer."""
    stop(person)
    enrol(person, to, **enrol_options)
    return person


def apply(person, *, old=DONGGUAN, new=NINGBO, actor=None, **overrides):
    """Apply for the transfer from `old` to `new` with an ID-card photo."""
    fields = {
        "applicant": person, "old_region": region(old), "new_region": region(new),
        "reason": TransferApplication.Reason.WORK, "actor": actor or person.user, "id_card": png_upload(),
    }
    fields.update(overrides)
    return services.apply_for_transfer(**fields)


def refreshed(application):
    return TransferApplication.objects.get(pk=application.pk)


@pytest.fixture(autouse=True)
def _materials_in_tmp(storage):
    """Every transfer test keeps its uploads out of the project (the root `storage` fixture)."""


@pytest.fixture
def moving(outsider):
    """陈明, stopped in 东莞 with ¥1,500.00 and enrolled in 宁波 by his new employer."""
    return move(outsider)


@pytest.fixture
def nb_clerk(reviewer):
    """A 宁波 clerk with every transfer permission: the new region's desk."""
    return grant(reviewer)


@pytest.fixture
def dg_clerk(other_region_clerk):
    """A 东莞 clerk with every transfer permission: the old region's desk."""
    return grant(other_region_clerk)


@pytest.fixture
def submitted(moving):
    return apply(moving)


@pytest.fixture
def accepted(submitted, nb_clerk):
    return services.accept_transfer(application=submitted, actor=nb_clerk)


@pytest.fixture
def transferred_out(accepted, dg_clerk):
    return services.transfer_out(application=accepted, actor=dg_clerk)


@pytest.fixture
def completed(transferred_out, nb_clerk):
    return services.transfer_in(application=transferred_out, actor=nb_clerk)
