"""Every notice of a transfer's steps says what it is: one full stop, a button only where action is asked."""

import pytest

from conftest import assert_notices_say_what_they_are
from transfers import services

pytestmark = pytest.mark.django_db


def test_a_completed_transfers_notices(client, completed):
    assert_notices_say_what_they_are(client)


def test_a_returned_transfers_notices(client, submitted, nb_clerk):
    services.return_transfer(application=submitted, actor=nb_clerk, note="身份证照片不清晰。")
    assert_notices_say_what_they_are(client)


def test_a_refused_transfers_notices(client, submitted, nb_clerk):
    services.refuse_transfer(application=submitted, actor=nb_clerk, reason="转入地没有参保登记。")
    assert_notices_say_what_they_are(client)
