import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.template.loader import render_to_string
from django.utils import timezone

from conftest import make_staff
from review.models import Event
from review.timeline import timeline
from review.transitions import record_creation, transition


@pytest.fixture
def dossier(make_dossier, applicant):
    dossier = make_dossier(applicant)
    record_creation(application=dossier, actor=applicant.user)
    transition(application=dossier, to="submitted", actor=applicant.user)
    clerk = make_staff("clerk_nb", "330200")
    clerk.first_name = "李"
    clerk.save()
    transition(application=dossier, to="returned", actor=clerk, note="请补充定居证明\n和护照首页")
    return dossier


def test_steps_carry_chinese_labels_and_who_acted(dossier):
    steps = timeline(dossier)
    assert [step.label for step in steps] == ["草稿", "已提交", "退回补正"]
    assert [step.who for step in steps] == ["本人", "本人", "经办人员 李"]
    assert steps[-1].note == "请补充定居证明\n和护照首页"


def test_staff_without_a_first_name_are_named_by_login(make_dossier, applicant):
    dossier = make_dossier(applicant, status="submitted")
    transition(application=dossier, to="reviewed", actor=make_staff("reviewer_x", "330200"))
    assert timeline(dossier)[-1].who == "经办人员 reviewer_x"


def test_a_step_without_actor_is_the_system(make_dossier, applicant):
    dossier = make_dossier(applicant)
    record_creation(application=dossier, actor=None)
    assert timeline(dossier)[0].who == "系统"


def test_a_status_no_longer_in_the_choices_shows_its_value(make_dossier, applicant, dossier_model):
    dossier = make_dossier(applicant)
    content_type = ContentType.objects.get_for_model(dossier_model)
    Event.objects.create(content_type=content_type, object_id=dossier.pk, to_status="old_status")
    assert timeline(dossier)[0].label == "old_status"


def test_the_timeline_takes_one_query(dossier, django_assert_num_queries):
    ContentType.objects.get_for_model(type(dossier))  # cached for the life of the process
    with django_assert_num_queries(1):
        timeline(dossier)


def test_the_template_renders_an_ordered_list_with_the_deadline(dossier):
    html = render_to_string(
        "review/timeline.html",
        {
            "steps": timeline(dossier),
            "next_deadline": datetime.date(2026, 10, 13),
            "deadline_label": "补正期限",
        },
    )
    assert '<ol class="timeline-steps">' in html
    assert html.count("<li") == 3
    assert 'aria-current="step"' in html
    assert "退回补正" in html and "经办人员 李" in html
    assert "请补充定居证明<br>和护照首页" in html
    assert "补正期限" in html and "2026年10月13日" in html
    local = timezone.localtime(timeline(dossier)[0].at)
    assert f"{local:%H:%M}" in html


def test_the_template_escapes_notes(make_dossier, applicant):
    dossier = make_dossier(applicant)
    record_creation(application=dossier, actor=None, note="<script>alert(1)</script>")
    html = render_to_string("review/timeline.html", {"steps": timeline(dossier)})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "办理时限" not in html
