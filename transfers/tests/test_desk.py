"""The transfer desks: each region's default queue holds the steps that region may take now, the earliest
deadline first, and the counts on the home page open those queues."""

import datetime
import re

from django.urls import reverse
from django.utils import timezone

from conftest import make_citizen_user, make_employee
from transfers import services
from transfers.models import TransferApplication

from .conftest import DONGGUAN, apply, move

QUEUE = reverse("admin:transfers_transferapplication_changelist")


def queue_numbers(client, **query):
    html = client.get(QUEUE, query).content.decode()
    return re.findall(r'class="field-number"><a href="[^"]+">(T\w+)</a>', html)


def moved(name):
    person = move(make_employee(balance="60.00", region_code=DONGGUAN, name=name))
    make_citizen_user(person)
    return person


def test_each_region_sees_its_own_steps_by_default(client, submitted, nb_clerk, dg_clerk):
    accepted = services.accept_transfer(application=apply(moved("周八")), actor=nb_clerk)
    out = services.transfer_out(
        application=services.accept_transfer(application=apply(moved("吴九")), actor=nb_clerk), actor=dg_clerk
    )
    client.force_login(nb_clerk)
    # 宁波 accepts and transfers in: the transfer-in has a deadline, the acceptance none, so it comes first.
    assert queue_numbers(client) == [out.number, submitted.number]
    assert set(queue_numbers(client, queue="all")) == {submitted.number, accepted.number, out.number}
    client.force_login(dg_clerk)
    assert queue_numbers(client) == [accepted.number]


def test_the_earliest_deadline_comes_first(client, nb_clerk, dg_clerk):
    first = services.accept_transfer(application=apply(moved("甲")), actor=nb_clerk)
    second = services.accept_transfer(application=apply(moved("乙")), actor=nb_clerk)
    earlier = timezone.localdate() - datetime.timedelta(days=1)
    TransferApplication.objects.filter(pk=second.pk).update(transfer_out_due=earlier, next_due=earlier)
    client.force_login(dg_clerk)
    assert queue_numbers(client) == [second.number, first.number]


def test_the_home_counts_the_regions_steps(client, submitted, nb_clerk, dg_clerk):
    client.force_login(nb_clerk)
    html = client.get(reverse("admin:index")).content.decode()
    assert '转移待受理</span> <strong class="work-list__count">1</strong>' in html
    client.force_login(dg_clerk)
    html = client.get(reverse("admin:index")).content.decode()
    assert '转移待受理</span> <strong class="work-list__count">0</strong>' in html


def test_a_transfer_page_shows_the_id_card_beside_the_steps(client, submitted, nb_clerk):
    client.force_login(nb_clerk)
    url = reverse("admin:transfers_transferapplication_change", args=[submitted.pk])
    html = client.get(url).content.decode()
    assert "身份证（正反面）图片" in html and "?inline=1" in html
    assert 'class="button default desk__offered">受理</button>' in html


def test_the_counter_reads_the_applicants_name_back_first(client, moving, nb_clerk):
    client.force_login(nb_clerk)
    add = reverse("admin:transfers_transferapplication_add")
    html = client.get(add, {"lookup": moving.id_number}).content.decode()
    assert f"参保登记姓名：<strong>{moving.name}</strong>" in html
    assert html.index('name="lookup"') < html.index('name="old_region"')
