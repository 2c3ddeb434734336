"""Every allowed and every forbidden move of the status mapping, through the one transition routine."""

import itertools

import pytest

from review.models import Event
from review.transitions import NotAllowed, transition
from withdrawals.models import WithdrawalApplication

from .conftest import start

Status = WithdrawalApplication.Status

ALLOWED = {
    ("draft", "submitted"), ("draft", "cancelled"),
    ("submitted", "first_reviewed"), ("submitted", "returned"), ("submitted", "refused"),
    ("submitted", "cancelled"),
    ("returned", "submitted"), ("returned", "cancelled"),
    ("first_reviewed", "approved"), ("first_reviewed", "returned"), ("first_reviewed", "refused"),
    ("approved", "paid"), ("approved", "bank_returned"),
    ("paid", "bank_returned"),
}
ALL_MOVES = set(itertools.permutations(Status.values, 2))


def test_the_mapping_is_exactly_the_documented_one():
    mapping = {(old, new) for old, targets in WithdrawalApplication.TRANSITIONS.items() for new in targets}
    assert mapping == ALLOWED
    assert set(WithdrawalApplication.TRANSITIONS) == set(Status.values)


def at(application, status):
    # Test set-up only: put the row in the status under test without walking the whole way there.
    WithdrawalApplication.objects.filter(pk=application.pk).update(status=status)
    application.status = status
    return application


@pytest.mark.parametrize(("old", "new"), sorted(ALLOWED))
def test_allowed_move(stopped_applicant, old, new):
    application = at(start(stopped_applicant), old)
    event = transition(application=application, to=new, actor=stopped_applicant.user)
    assert WithdrawalApplication.objects.get(pk=application.pk).status == new
    assert (event.from_status, event.to_status) == (old, new)


@pytest.mark.parametrize(("old", "new"), sorted(ALL_MOVES - ALLOWED))
def test_forbidden_move(stopped_applicant, old, new):
    application = at(start(stopped_applicant), old)
    events_before = Event.objects.for_object(application).count()
    with pytest.raises(NotAllowed):
        transition(application=application, to=new, actor=stopped_applicant.user)
    assert WithdrawalApplication.objects.get(pk=application.pk).status == old
    assert Event.objects.for_object(application).count() == events_before
