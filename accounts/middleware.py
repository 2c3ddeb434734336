"""Headers every page gets (no caching of personal data, no browser features the portal does not use), and the
renewal of a session's idle expiry."""

import time

from django.conf import settings
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

# The portal uses none of these; a page that is ever made to load foreign content cannot turn them on.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "bluetooth", "camera", "display-capture", "geolocation", "gyroscope",
        "hid", "idle-detection", "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get",
        "screen-wake-lock", "serial", "usb", "xr-spatial-tracking", "browsing-topics",
    )
)


class PrivacyHeadersMiddleware:
    """Send `Cache-Control: no-store` with every page of a logged-in session and every admin page.

    Citizens' pages show ID numbers, balances and statements, clerks' pages much more; a shared computer's
    back button or disk cache must not keep them after logout.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = None

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if self.admin_prefix is None:
            self.admin_prefix = reverse("admin:index")
        # A session cookie sent or set marks the answer private without loading the session from the store:
        # every logged-in page carries one, and a page that carries one anonymously loses nothing by it.
        cookie = settings.SESSION_COOKIE_NAME
        private = (
            cookie in request.COOKIES or cookie in response.cookies or request.path.startswith(self.admin_prefix)
        )
        if private and "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response


RENEWED_AT = "_renewed_at"


class SessionRenewalMiddleware:
    """Renew the idle expiry of a session the page used, at most once every SESSION_RENEW_SECONDS.

    Writing the session back on every request (SESSION_SAVE_EVERY_REQUEST) cost the bare view 72% of its
    throughput. A page that reads the session stamps it when the last renewal is older than the interval;
    SessionMiddleware then saves it, which restarts SESSION_COOKIE_AGE. A page that never touches the
    session (the health check, static files) neither loads nor renews it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # An expired or unknown key loads as an empty session, which must not be brought back to life.
        if session is None or not session.accessed or session.is_empty():
            return response
        now = int(time.time())
        if session.modified or now - session.get(RENEWED_AT, 0) >= settings.SESSION_RENEW_SECONDS:
            session[RENEWED_AT] = now
        return response
