"""Limit failed real-name registrations per address, so the form cannot be used to search the registry."""

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60 * 60


def client_ip(request):
    """Return the client's address from the header settings name; django-axes uses it too."""
    return request.META.get(settings.CLIENT_IP_HEADER) or request.META.get("REMOTE_ADDR", "")


def _key(request):
    return f"registration-failures:{client_ip(request)}"


def registration_blocked(request):
    """Return True when this address has failed registration too often within the hour."""
    return cache.get(_key(request), 0) >= settings.REGISTRATION_FAILURE_LIMIT


def record_registration_failure(request):
    """Count one failed registration from this address."""
    key = _key(request)
    if not cache.add(key, 1, WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:
            # The entry expired between add() and incr(); start the count again.
            cache.add(key, 1, WINDOW_SECONDS)
