import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db

STEPS = ["transfers.accept_transfer", "transfers.transfer_out", "transfers.transfer_in"]


def test_seed_demo_gives_both_regions_reviewers_every_transfer_step(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)

    for username in ("reviewer_nb", "reviewer_dg"):
        clerk = User.objects.get(username=username)
        assert clerk.has_perms([*STEPS, "transfers.view_transferapplication"])
        assert clerk.has_perm("transfers.add_transferapplication")
        # What the browser test asks of them in the admin: record a stop and an enrolment.
        assert clerk.has_perms(
            ["accounts.add_enrolment", "accounts.change_enrolment", "accounts.view_person"]
        )
    approver = User.objects.get(username="approver_nb")
    assert approver.has_perm("transfers.view_transferapplication")
    assert not any(approver.has_perm(step) for step in STEPS)
