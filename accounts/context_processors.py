"""What every page's header needs: text size, the citizen's masked name and unread notices."""

from .identity import mask_name
from .services import unread_notice_count

TEXT_SIZE_COOKIE = "text_size"
LARGE_TEXT = "large"


def portal(request):
    """Add the header's data; at most one query (none while the count is in the cache), for a citizen only."""
    context = {"large_text": request.COOKIES.get(TEXT_SIZE_COOKIE) == LARGE_TEXT}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.person_id is None:
        return context
    # The person came with the user (accounts.backends.PortalBackend); the count is kept in the cache.
    unread = unread_notice_count(user.person_id)
    context.update(citizen_masked_name=mask_name(user.person.name), unread_notice_count=unread)
    return context
