"""Headers every page gets: no caching of personal data, and no browser features the portal does not use."""

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
        user = getattr(request, "user", None)
        private = (user is not None and user.is_authenticated) or request.path.startswith(self.admin_prefix)
        if private and "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response
