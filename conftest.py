"""Fixtures every app's tests share: people, accounts with money, staff of a region."""

import datetime
import itertools
import os
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import sms
from accounts.step_up import mark_phone_proven
from accounts import ledger
from accounts.identity import check_character
from accounts.models import (
    Account,
    Enrolment,
    JournalTransaction,
    Person,
    PolicyVersion,
    Region,
    StaffProfile,
    User,
)
from accounts.policy import PARAMETERS
from accounts.services import record_enrolment, system_account

_serial = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    _skip_postgresql_only_tests(items)
    _skip_redis_only_tests(items)
    _restore_seeded_rows_after_committing_tests(items)


def _skip_postgresql_only_tests(items):
    """Skip PostgreSQL-only tests on other databases, saying why."""
    if connection.vendor == "postgresql":
        return
    reason = (
        "needs PostgreSQL: row locks (SELECT ... FOR UPDATE) and ledger triggers only exist there; "
        "SQLite serialises every writer. Set DATABASE_URL=postgres://... to run it."
    )
    for item in items:
        if item.get_closest_marker("postgresql"):
            item.add_marker(pytest.mark.skip(reason=reason))


def _skip_redis_only_tests(items):
    """Skip tests of a cache shared between processes unless the cache is Redis, saying why."""
    if "RedisCache" in settings.CACHES["default"]["BACKEND"]:
        return
    reason = (
        "needs a cache shared between processes: set CACHE_URL=redis://127.0.0.1:6379/1 "
        "(.ci/run does so for its PostgreSQL run)"
    )
    for item in items:
        if item.get_closest_marker("redis"):
            item.add_marker(pytest.mark.skip(reason=reason))


def _restore_seeded_rows_after_committing_tests(items):
    """Give every test that commits (transaction=True, live_server) a serialized rollback.

    Such a test ends by emptying every table, which takes the regions of the data migration with it.
    Serialized rollback puts them (and the content types) back before the next such test. All of them must
    use it or none: one that does not recreates the content types under new ids when it ends, and the next
    one that does then fails restoring the old ids.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        options = dict(marker.kwargs) if marker else {}
        commits = options.get("transaction") or {"transactional_db", "live_server"} & set(item.fixturenames)
        if commits and not options.get("serialized_rollback"):
            options["serialized_rollback"] = True
            item.add_marker(pytest.mark.django_db(*(marker.args if marker else ()), **options), append=False)


@pytest.fixture(scope="session", autouse=True)
def _one_redis_database_per_worker():
    """Give each pytest-xdist worker its own Redis database when the cache is Redis.

    Every test clears the cache, and RedisCache.clear() flushes the whole database: two workers sharing
    one would wipe each other's throttle counters mid-test. CACHE_URL names the first database (…/1);
    worker gwN uses database 1 + N.
    """
    location = settings.CACHES["default"].get("LOCATION", "")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if "RedisCache" not in settings.CACHES["default"]["BACKEND"]:
        yield
        return
    base, _slash, number = location.rpartition("/")
    database = int(number or 0) + int(worker.removeprefix("gw") or 0)
    with override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": f"{base}/{database}"}}):
        yield


@pytest.fixture(autouse=True)
def _sms_to_the_test_outbox(settings):
    """Keep every text message in accounts.sms.outbox, empty at the start of each test."""
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _forced_logins_stand_for_full_ones(request):
    """Let `client.force_login()` and `admin_client` stand for a full login with its proofs.

    Staff pass the second factor; citizens have proven the reserved phone a moment ago, so pages behind the
    step-up carry on at once. Tests of those proofs (marked `real_login`) and browser tests go through the
    real forms instead. Only force_login is affected: its request has no path.
    """
    if request.node.get_closest_marker("real_login") or request.node.get_closest_marker("e2e"):
        yield
        return

    def verify(sender, request, user, **kwargs):
        if request.path != "":
            return
        if user.is_staff:
            device, _created = TOTPDevice.objects.get_or_create(user=user, defaults={"name": "测试"})
            request.user = user
            otp_login(request, device)
        elif user.person_id is not None:
            mark_phone_proven(request)

    user_logged_in.connect(verify, dispatch_uid="forced-staff-login-verified")
    yield
    user_logged_in.disconnect(dispatch_uid="forced-staff-login-verified")


@pytest.fixture(autouse=True)
def _empty_cache():
    # Throttles count in the cache; one test's failures must not block the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _static_files_without_collectstatic():
    # Tests run with DEBUG off but never run collectstatic: whitenoise then looks files up per request
    # instead of scanning the missing STATIC_ROOT and warning about it in every test.
    with override_settings(WHITENOISE_AUTOREFRESH=True):
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; tests only need a hash that checks.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_id_number(birth="19850101", region_code="330203"):
    """Return a valid ID number, different on every call."""
    first17 = f"{region_code}{birth}{next(_serial) % 1000:03d}"
    return first17 + check_character(first17)


def make_person(**overrides):
    id_number = overrides.pop("id_number", None) or make_id_number(overrides.pop("birth", "19850101"))
    fields = {
        "name": "测试人",
        "id_number": id_number,
        "phone": "13800000000",
        "card_number": f"C{id_number}",
    }
    fields.update(overrides)
    return Person.objects.create(**fields)


def region(code="330200"):
    return Region.objects.get(code=code)


# Enrolments made by the helpers began long ago, so that any month a test credits is covered.
LONG_AGO = datetime.date(2016, 1, 1)


def set_policy(region_code="330200", *, since=None, document="测试文件", **values):
    """Add a version of the region's parameters, from `since` (default: the day after its newest one).

    A version in force is never changed, so a test that needs other parameters adds one that takes over
    from its day on, as staff would (except that a test may date it in the past).
    """
    region_row = region(region_code)
    latest = PolicyVersion.objects.filter(region=region_row).order_by("-effective_from").first()
    since = since or latest.effective_from + datetime.timedelta(days=1)
    base = PolicyVersion.objects.filter(region=region_row, effective_from__lt=since).order_by("-effective_from").first()
    parameters = {name: getattr(base, name) for name in PARAMETERS}
    return PolicyVersion.objects.create(
        region=region_row, effective_from=since, document=document, **{**parameters, **values}
    )


def make_employee(
    *, balance=Decimal("0.00"), region_code="330200", retired=False, base="8000.00", started_on=LONG_AGO,
    **person_fields,
):
    """Return a person with an active employee enrolment and a personal account holding `balance`."""
    person = make_person(**person_fields)
    enrolment = record_enrolment(
        person=person,
        region=region(region_code),
        insurance_type=Enrolment.InsuranceType.EMPLOYEE,
        employment=Enrolment.Employment.RETIRED if retired else Enrolment.Employment.IN_SERVICE,
        contribution_base=None if retired else Decimal(base),
        contribution_months=120,
        started_on=started_on,
    )
    if balance:
        fund(enrolment.account, Decimal(balance))
    return person


def make_resident(*, region_code="330200", started_on=LONG_AGO, **person_fields):
    person = make_person(**person_fields)
    record_enrolment(
        person=person,
        region=region(region_code),
        insurance_type=Enrolment.InsuranceType.RESIDENT,
        started_on=started_on,
    )
    return person


def fund(account, amount):
    """Put money in an account the way an opening balance is booked."""
    source = system_account(account.region, Account.Kind.CREDIT_SOURCE)
    return ledger.post(
        kind=JournalTransaction.Kind.OPENING,
        lines=[ledger.Line(source, -amount), ledger.Line(account, amount)],
        description="期初余额",
    )


def make_citizen_user(person, password="Demo@2026"):
    user = User(username=person.id_number, first_name=person.name, person=person)
    user.set_password(password)
    user.save()
    return user


def make_staff(username, *region_codes, superuser=False):
    user = User.objects.create_user(username=username, password="Demo@2026", is_staff=True, is_superuser=superuser)
    profile = StaffProfile.objects.create(user=user)
    profile.regions.set(Region.objects.filter(code__in=region_codes))
    return user


@pytest.fixture
def storage(settings, tmp_path):
    """Keep stored materials in a temporary folder, never in the project."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "materials-root")},
        },
    }
    return tmp_path / "materials-root"


@pytest.fixture
def applicant(db):
    """A 宁波 in-service employee with ¥2,000.00 and a login."""
    person = make_employee(balance="2000.00", name="张伟")
    make_citizen_user(person)
    return person


@pytest.fixture
def relative(db):
    """The applicant's daughter: born 2015, resident insurance in 宁波, no personal account, no login."""
    return make_resident(name="张小雨", birth="20150601", phone="13905741020")


@pytest.fixture
def outsider(db):
    """Another citizen, in 东莞, with a login and money of his own."""
    person = make_employee(balance="1500.00", region_code="441900", name="陈明")
    make_citizen_user(person)
    return person


@pytest.fixture
def reviewer(db):
    return make_staff("reviewer", "330200")


@pytest.fixture
def approver(db):
    return make_staff("approver", "330200")


@pytest.fixture
def other_region_clerk(db):
    return make_staff("clerk_dg", "441900")


def assert_notices_say_what_they_are(client):
    """Check every notice so far: one full stop, and only those asking for an action link to it as a button.

    `client` may be any test client; each notice is opened as its own recipient.
    """
    from accounts.models import Notice

    for notice in Notice.objects.select_related("person__user"):
        for text in (notice.title, notice.body):
            assert "。。" not in text and not text.endswith(".."), f"{notice.title}: {text}"
        assert not notice.needs_action or notice.link, f"{notice.title} asks for an action but links nowhere"
        client.force_login(notice.person.user)
        html = client.get(f"/notices/{notice.pk}/").text
        assert ("去办理" in html) == notice.needs_action, f"{notice.title}: the button does not fit the notice"
