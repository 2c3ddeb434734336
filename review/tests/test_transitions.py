import datetime
import threading

import pytest
from django.db import connection

from conftest import make_staff
from review.models import Event
from review.transitions import AlreadyHandled, NoPermission, NotAllowed, record_creation, transition

from .conftest import grant


@pytest.fixture
def dossier(make_dossier, applicant):
    dossier = make_dossier(applicant, status="submitted")
    record_creation(application=dossier, actor=applicant.user, note="网上提交")
    return dossier


@pytest.fixture
def clerk(db):
    return grant(make_staff("clerk_nb", "330200"), "view_dossier", "review_dossier")


def test_record_creation_writes_the_first_event(dossier, applicant):
    (event,) = dossier.events
    facts = (event.from_status, event.to_status, event.actor, event.note)
    assert facts == ("", "submitted", applicant.user, "网上提交")


def test_an_allowed_move_changes_the_status_and_writes_an_event(dossier, clerk, dossier_model):
    event = transition(
        application=dossier, to="returned", actor=clerk, note="请补充定居证明",
        permission="review.review_dossier",
    )
    assert dossier.status == "returned"
    assert dossier_model.objects.get(pk=dossier.pk).status == "returned"
    facts = (event.from_status, event.to_status, event.actor, event.note)
    assert facts == ("submitted", "returned", clerk, "请补充定居证明")
    assert list(dossier.events)[-1] == event
    assert event.application == dossier


def test_further_fields_are_written_with_the_move(dossier, clerk, dossier_model):
    day = datetime.date(2026, 10, 8)
    transition(application=dossier, to="reviewed", actor=clerk, changes={"clock_started_on": day})
    assert dossier.clock_started_on == day
    assert dossier_model.objects.get(pk=dossier.pk).clock_started_on == day


def test_a_move_outside_the_mapping_raises_not_allowed_and_changes_nothing(dossier, clerk, dossier_model):
    with pytest.raises(NotAllowed) as caught:
        transition(application=dossier, to="draft", actor=clerk)
    assert "已提交" in caught.value.message and "草稿" in caught.value.message
    assert dossier_model.objects.get(pk=dossier.pk).status == "submitted"
    assert dossier.events.count() == 1


def test_a_final_status_allows_no_move(make_dossier, applicant, clerk):
    dossier = make_dossier(applicant, status="refused")
    with pytest.raises(NotAllowed):
        transition(application=dossier, to="submitted", actor=clerk)


def test_missing_permission_raises_no_permission_and_changes_nothing(dossier, dossier_model):
    viewer = grant(make_staff("viewer", "330200"), "view_dossier")
    with pytest.raises(NoPermission):
        transition(application=dossier, to="reviewed", actor=viewer, permission="review.review_dossier")
    with pytest.raises(NoPermission):
        transition(application=dossier, to="reviewed", actor=None, permission="review.review_dossier")
    assert dossier_model.objects.get(pk=dossier.pk).status == "submitted"
    assert dossier.events.count() == 1


def test_a_stale_copy_raises_already_handled_and_writes_no_event(dossier, clerk, dossier_model):
    stale = dossier_model.objects.get(pk=dossier.pk)
    transition(application=dossier, to="reviewed", actor=clerk, permission="review.review_dossier")
    with pytest.raises(AlreadyHandled) as caught:
        transition(application=stale, to="refused", actor=clerk, permission="review.review_dossier")
    assert "已被他人办理" in caught.value.message
    assert dossier_model.objects.get(pk=dossier.pk).status == "reviewed"
    assert [e.to_status for e in dossier.events] == ["submitted", "reviewed"]
    assert stale.status == "submitted"


def test_errors_carry_a_code_for_callers(dossier, clerk):
    with pytest.raises(NotAllowed) as caught:
        transition(application=dossier, to="draft", actor=clerk)
    assert caught.value.code == "not_allowed"
    assert str(caught.value) == caught.value.message


def test_events_of_one_application_are_not_shown_on_another(make_dossier, dossier, applicant):
    other = make_dossier(applicant)
    record_creation(application=other, actor=None)
    assert dossier.events.count() == 1
    assert Event.objects.count() == 2


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_clerks_deciding_at_once_one_wins_and_the_other_is_told(make_dossier, applicant, dossier_model):
    dossier = make_dossier(applicant, status="submitted")
    clerks = [grant(make_staff(f"clerk{i}", "330200"), "review_dossier") for i in range(2)]
    copies = [dossier_model.objects.get(pk=dossier.pk) for _ in clerks]
    barrier, outcomes = threading.Barrier(2), []

    def decide(copy, clerk, to):
        try:
            barrier.wait()
            transition(application=copy, to=to, actor=clerk, permission="review.review_dossier")
            outcomes.append("moved")
        except AlreadyHandled:
            outcomes.append("already handled")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(copies[0], clerks[0], "reviewed")),
        threading.Thread(target=decide, args=(copies[1], clerks[1], "refused")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already handled", "moved"]
    assert Event.objects.filter(object_id=dossier.pk).count() == 1
