"""The clerk's waiting work on the admin home page."""

from django import template

from review.admin import WORK_DESKS

register = template.Library()


@register.simple_tag(takes_context=True)
def waiting_work(context):
    """Return every desk's Work items for the user: one query per desk the user may view."""
    request = context["request"]
    items = []
    for desk in WORK_DESKS:
        if desk.admin_site.name == "admin" and desk.has_view_permission(request):
            items.extend(desk.work(request))
    return items
