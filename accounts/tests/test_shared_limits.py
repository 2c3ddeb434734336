"""The code-request limits hold across processes that share the cache (Redis), as several servers do."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.redis

# Each process asks for codes to fresh phones from one address, as fast as it can.
REQUESTER = """
import django, os
django.setup()
from accounts import phone_codes
from accounts.services import ServiceError
accepted = refused = 0
for n in range(int(os.environ["REQUESTS"])):
    try:
        phone_codes.send_code(phone=f"139{os.environ['PREFIX']}{n:04d}", purpose="register",
                              address="198.51.100.7", deliver=False)
        accepted += 1
    except ServiceError as error:
        assert error.code == "address_cap", error.code
        refused += 1
print(accepted, refused)
"""


def start(prefix):
    location = settings.CACHES["default"]["LOCATION"]
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "SMS_BACKEND": "locmem",
        "CACHE_URL": location, "DATABASE_URL": "", "REQUESTS": "15", "PREFIX": prefix,
    }
    return subprocess.Popen(
        [sys.executable, "-c", REQUESTER], cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, text=True
    )


def test_two_processes_together_get_no_more_than_the_address_limit():
    first, second = start("0000"), start("1111")
    counts = [tuple(map(int, process.communicate(timeout=120)[0].split())) for process in (first, second)]
    assert first.returncode == second.returncode == 0
    accepted = sum(count[0] for count in counts)
    assert accepted == settings.SMS_CODES_PER_ADDRESS_PER_HOUR == 20
    assert sum(count[1] for count in counts) == 10
