import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_reviewer_and_approver_different_withdrawal_steps(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)

    reviewer, approver = User.objects.get(username="reviewer_nb"), User.objects.get(username="approver_nb")
    assert reviewer.has_perm("withdrawals.review_withdrawal")
    assert not reviewer.has_perm("withdrawals.approve_withdrawal")
    assert approver.has_perms(["withdrawals.approve_withdrawal", "withdrawals.pay_withdrawal"])
    assert not approver.has_perm("withdrawals.review_withdrawal")
    assert User.objects.get(username="reviewer_dg").has_perm("withdrawals.review_withdrawal")
