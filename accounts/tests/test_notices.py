import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Notice
from conftest import make_citizen_user, make_employee


@pytest.fixture
def owner_client(client, applicant):
    client.force_login(applicant.user)
    return client


def test_inbox_lists_newest_first_and_marks_unread(owner_client, applicant):
    older = services.notify(person=applicant, title="旧通知", body="内容")
    newer = services.notify(person=applicant, title="新通知", body="内容")
    services.mark_notice_read(notice=older)
    response = owner_client.get(reverse("notices"))
    assert list(response.context["page"].object_list) == [newer, older]
    page = response.content.decode()
    assert page.count('class="tag">未读') == 1
    assert page.index("新通知") < page.index("旧通知")


def test_inbox_is_paginated(owner_client, applicant):
    for number in range(25):
        services.notify(person=applicant, title=f"通知{number}", body="内容")
    assert len(owner_client.get(reverse("notices")).context["page"].object_list) == 20
    assert len(owner_client.get(reverse("notices"), {"page": 2}).context["page"].object_list) == 5


def test_inbox_shows_only_the_citizens_own_notices(client, applicant, outsider):
    services.notify(person=applicant, title="张伟的通知", body="内容")
    client.force_login(outsider.user)
    response = client.get(reverse("notices"))
    assert list(response.context["page"].object_list) == []
    assert "张伟的通知" not in response.content.decode()


@pytest.mark.parametrize("count", [3, 40])
def test_inbox_uses_a_constant_number_of_queries(client, db, django_assert_num_queries, count):
    person = make_employee(name="李秀英")
    make_citizen_user(person)
    for number in range(count):
        services.notify(person=person, title=f"通知{number}", body="内容")
        services.notify(person=person, title=f"待办{number}", body="内容", link="/account/", needs_action=True)
    client.force_login(person.user)
    # the user with the person, the inbox's facts, the notices asking for action, notice count, notice page,
    # header; the session is in the cache and renewed at most once a minute, so it costs no query
    with django_assert_num_queries(6):
        client.get(reverse("notices"))
    # reloaded, both lists and the header's count come from the cache: the user and the facts only
    with django_assert_num_queries(2):
        html = client.get(reverse("notices")).text
    assert f"需要您办理（{min(count, 20)}条）" in html and f"待办{count - 1}" in html


def test_the_inbox_shows_a_new_notice_and_a_read_one_at_the_next_load(owner_client, applicant):
    first = services.notify(person=applicant, title="第一条", body="内容")
    assert "（1条未读）" in owner_client.get(reverse("notices")).text

    second = services.notify(person=applicant, title="第二条", body="内容")
    html = owner_client.get(reverse("notices")).text
    assert "第二条" in html and "（2条未读）" in html

    services.mark_notice_read(notice=first)
    assert "（1条未读）" in owner_client.get(reverse("notices")).text

    to_do = services.notify(person=applicant, title="请确认", body="内容", link="/sharing/", needs_action=True)
    html = owner_client.get(reverse("notices")).text
    assert "需要您办理（1条）" in html and "请确认" in html

    services.mark_notice_read(notice=to_do)
    services.mark_all_notices_read(person=applicant)
    html = owner_client.get(reverse("notices")).text
    assert "需要您办理" not in html and "未读" not in html and second.title in html
    assert "全部标为已读" not in html  # nothing left to mark


def test_an_empty_inbox_says_so_and_offers_no_button(owner_client):
    html = owner_client.get(reverse("notices")).text
    assert "暂时没有通知。" in html and "全部标为已读" not in html


def test_opening_a_notice_marks_it_read_and_shows_the_next_step(owner_client, applicant):
    notice = services.notify(
        person=applicant, title="请确认共济绑定", body="您的父亲申请与您共济。", link="/account/", needs_action=True
    )
    response = owner_client.get(reverse("notice", args=[notice.pk]))
    assert response.status_code == 200
    notice.refresh_from_db()
    assert notice.read_at is not None
    page = response.content.decode()
    assert "您的父亲申请与您共济。" in page
    assert 'href="/account/"' in page


def test_opening_a_read_notice_keeps_the_first_read_time(owner_client, applicant):
    notice = services.notify(person=applicant, title="通知", body="内容")
    owner_client.get(reverse("notice", args=[notice.pk]))
    first_read = Notice.objects.get(pk=notice.pk).read_at
    owner_client.get(reverse("notice", args=[notice.pk]))
    assert Notice.objects.get(pk=notice.pk).read_at == first_read


def test_off_site_link_in_a_notice_is_not_shown(owner_client, applicant):
    notice = services.notify(person=applicant, title="通知", body="内容", link="https://evil.example/")
    assert "evil.example" not in owner_client.get(reverse("notice", args=[notice.pk])).content.decode()


def test_other_citizens_notice_is_404_and_stays_unread(client, applicant, outsider):
    notice = services.notify(person=applicant, title="张伟的通知", body="内容")
    client.force_login(outsider.user)
    response = client.get(reverse("notice", args=[notice.pk]))
    assert response.status_code == 404
    assert "张伟的通知" not in response.content.decode()
    notice.refresh_from_db()
    assert notice.read_at is None


def test_anonymous_opening_a_notice_is_sent_to_login(client, applicant):
    notice = services.notify(person=applicant, title="通知", body="内容")
    url = reverse("notice", args=[notice.pk])
    assert client.get(url)["Location"] == f"{reverse('login')}?next={url}"


def test_unread_count_in_header_drops_after_reading(owner_client, applicant):
    notice = services.notify(person=applicant, title="通知", body="内容")
    assert owner_client.get(reverse("notices")).context["unread_notice_count"] == 1
    owner_client.get(reverse("notice", args=[notice.pk]))
    assert owner_client.get(reverse("notices")).context["unread_notice_count"] == 0


def test_a_notice_asking_for_action_links_to_it_with_a_button(owner_client, applicant):
    notice = services.notify(person=applicant, title="请确认", body="请确认。", link="/sharing/", needs_action=True)
    html = owner_client.get(reverse("notice", args=[notice.pk])).text
    assert '<a class="button" href="/sharing/">去办理</a>' in html


def test_an_informational_notice_has_no_action_button(owner_client, applicant):
    notice = services.notify(person=applicant, title="已办结", body="已办结。", link="/transfers/")
    html = owner_client.get(reverse("notice", args=[notice.pk])).text
    assert "您无需操作" in html and "去办理" not in html and 'class="button" href="/transfers/"' not in html


def test_the_inbox_shows_what_asks_for_action_first_and_folds_the_rest_by_day(owner_client, applicant):
    for number in range(5):
        services.notify(person=applicant, title=f"已为亲属支付医药费{number}", body="支付。")
    services.notify(person=applicant, title="请确认家庭共济请求", body="请确认。", link="/sharing/", needs_action=True)
    html = owner_client.get(reverse("notices")).text
    assert html.index("需要您办理") < html.index("请确认家庭共济请求") < html.index("其他通知")
    assert html.count('<details class="notice-day"') == 1 and "5条（5条未读）" in html


def test_mark_all_as_read(owner_client, applicant, outsider):
    for number in range(3):
        services.notify(person=applicant, title=f"通知{number}", body="内容")
    someone_elses = services.notify(person=outsider, title="通知", body="内容")
    response = owner_client.post(reverse("read_all_notices"))
    assert response.status_code == 302
    assert not Notice.objects.filter(person=applicant, read_at__isnull=True).exists()
    assert Notice.objects.get(pk=someone_elses.pk).read_at is None


def test_a_reason_that_brings_its_own_full_stop_gets_one(applicant):
    notice = services.notify(person=applicant, title="不予受理", body="原因：材料不全。。如有疑问请咨询。")
    assert notice.body == "原因：材料不全。如有疑问请咨询。"
