import datetime
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.template.loader import render_to_string
from django.utils import timezone

from conftest import make_staff
from review.models import Event
from review.timeline import due_dates, timeline
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


def test_steps_carry_chinese_labels_and_roles_never_names(dossier):
    steps = timeline(dossier)
    assert [step.label for step in steps] == ["草稿", "已提交", "退回补正"]
    assert [step.who for step in steps] == ["本人", "本人", "经办人员"]
    assert steps[-1].note == "请补充定居证明\n和护照首页"


def test_the_citizen_never_sees_a_clerks_login_name(make_dossier, applicant):
    dossier = make_dossier(applicant, status="submitted")
    transition(application=dossier, to="reviewed", actor=make_staff("reviewer_x", "330200"))
    assert timeline(dossier)[-1].who == "经办人员"
    html = render_to_string("review/timeline.html", {"steps": timeline(dossier)})
    assert "reviewer_x" not in html


def test_staff_pages_may_ask_for_names(dossier, make_dossier, applicant):
    assert [step.who for step in timeline(dossier, names=True)] == ["本人", "本人", "经办人员 李"]
    other = make_dossier(applicant, status="submitted")
    transition(application=other, to="reviewed", actor=make_staff("reviewer_x", "330200"))
    assert timeline(other, names=True)[-1].who == "经办人员 reviewer_x"


def test_a_step_by_another_citizen_is_shown_as_done_on_their_behalf(make_dossier, applicant, outsider):
    dossier = make_dossier(applicant)
    transition(application=dossier, to="submitted", actor=outsider.user)
    assert timeline(dossier)[-1].who == "代办"
    assert timeline(dossier, names=True)[-1].who == "代办 陈明"


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
    assert "退回补正" in html and "经办人员" in html and "李" not in html
    assert "请补充定居证明<br>和护照首页" in html
    assert "补正期限" in html and "2026年10月13日</time>（含）前" in html
    local = timezone.localtime(timeline(dossier)[0].at)
    assert f"{local:%H:%M}" in html


def test_the_template_lists_each_pending_steps_deadline(dossier):
    deadlines = due_dates(
        ("初审期限", datetime.date(2026, 10, 13)), ("复核期限", None), ("到账期限", datetime.date(2026, 10, 20))
    )
    assert [label for label, _day in deadlines] == ["初审期限", "到账期限"]
    html = render_to_string("review/timeline.html", {"steps": timeline(dossier), "deadlines": deadlines})
    items = re.findall(r"<li>(.*?)</li>", html, re.DOTALL)
    assert len(items) == 2
    # Whether the day itself counts is said: it does.
    assert "初审期限" in items[0] and '<time datetime="2026-10-13">2026年10月13日</time>（含）前' in items[0]
    assert "到账期限" in items[1] and '<time datetime="2026-10-20">2026年10月20日</time>' in items[1]
    assert "复核期限" not in html
    assert "节假日顺延" in html


def test_the_deadline_list_takes_the_place_of_the_single_deadline(dossier):
    html = render_to_string(
        "review/timeline.html",
        {
            "steps": timeline(dossier),
            "deadlines": [("到账期限", datetime.date(2026, 10, 20))],
            "next_deadline": datetime.date(2026, 10, 13),
            "deadline_label": "初审期限",
        },
    )
    assert "到账期限" in html and "初审期限" not in html


def test_the_template_escapes_notes(make_dossier, applicant):
    dossier = make_dossier(applicant)
    record_creation(application=dossier, actor=None, note="<script>alert(1)</script>")
    html = render_to_string("review/timeline.html", {"steps": timeline(dossier)})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "办理时限" not in html
