"""Limit failures per client address, so the registration and login forms cannot be used to search.

The counts live in Django's cache: per process with the default local-memory cache, shared by every
server with CACHE_URL=redis://... (README, Configuration).
"""

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60 * 60


def client_ip(request):
    """Return the client's address from the header settings name; django-axes uses it too."""
    return request.META.get(settings.CLIENT_IP_HEADER) or request.META.get("REMOTE_ADDR", "")


class FailureCounter:
    """Failures of one kind per client address, counted in the cache for an hour."""

    def __init__(self, name, limit_setting):
        self.name = name
        # The limit is read on every check, so a test or a settings change takes effect at once.
        self.limit_setting = limit_setting

    def _key(self, request):
        return f"{self.name}-failures:{client_ip(request)}"

    def blocked(self, request):
        """Return True when this address has failed too often within the hour."""
        return cache.get(self._key(request), 0) >= getattr(settings, self.limit_setting)

    def record(self, request):
        """Count one failure from this address."""
        count_hit(self._key(request), WINDOW_SECONDS)


def count_hit(key, window_seconds):
    """Add one to the counter `key`, which lapses `window_seconds` after its first hit; return the new count.

    add() and incr() are each atomic in a shared cache (Redis INCR), so requests on several servers at
    once never lose a hit.
    """
    if cache.add(key, 1, window_seconds):
        return 1
    try:
        return cache.incr(key)
    except ValueError:
        # The entry expired between add() and incr(); start the count again.
        cache.add(key, 1, window_seconds)
        return 1


# Real-name registration: the form matches name, ID number and phone against the registry. Every code
# request counts, whether it matched or not, so that the limit reveals nothing either.
registration_failures = FailureCounter("registration", "REGISTRATION_FAILURE_LIMIT")
# Login: django-axes locks one (ID number, address) pair; this limits how many ID numbers one address tries.
login_failures = FailureCounter("login", "LOGIN_FAILURE_LIMIT_PER_ADDRESS")
