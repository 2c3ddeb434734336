"""What every page's header needs: text size, the citizen's masked name and unread notices."""

from django.db.models import Count, Q

from .identity import mask_name
from .models import Person

TEXT_SIZE_COOKIE = "text_size"
LARGE_TEXT = "large"


def portal(request):
    """Add the header's data; at most one query, and only for a logged-in citizen."""
    context = {"large_text": request.COOKIES.get(TEXT_SIZE_COOKIE) == LARGE_TEXT}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.person_id is None:
        return context
    name, unread = (
        Person.objects.filter(pk=user.person_id)
        .annotate(unread=Count("notices", filter=Q(notices__read_at__isnull=True)))
        .values_list("name", "unread")
        .get()
    )
    context.update(citizen_masked_name=mask_name(name), unread_notice_count=unread)
    return context
