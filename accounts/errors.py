"""Error pages that speak to whoever met the error: clerks in the admin's look, citizens in the portal's.

One chooser for every handler, so that a page of the other side (a citizen's own 403, 404 and 500 pages)
is a template away: `templates/admin/errors/` for staff paths, `templates/` for the rest.
"""

from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import reverse


def is_staff_path(request):
    return request.path.startswith(reverse("admin:index"))


def template_for(request, name):
    """Return the error template `name` in the admin's look for staff paths, the portal's otherwise."""
    return f"admin/errors/{name}" if is_staff_path(request) else name


def _admin_context(request):
    return admin.site.each_context(request) if is_staff_path(request) else {}


def permission_denied(request, exception):
    # A refusal may carry its reason (PermissionDenied("...")): the step was already taken, say.
    reason = str(exception) if exception is not None and exception.args else ""
    context = {**_admin_context(request), "reason": reason, "title": "没有权限"}
    return render(request, template_for(request, "403.html"), context, status=403)


def page_not_found(request, exception):
    context = {**_admin_context(request), "title": "页面不存在"}
    return render(request, template_for(request, "404.html"), context, status=404)


def server_error(request):
    # Rendered without a request context: the database or a context processor may be what failed.
    return HttpResponseServerError(loader.get_template(template_for(request, "500.html")).render())


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout page: the clerk's wording on the admin login, the citizen's elsewhere."""
    context = {
        **_admin_context(request),
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_timedelta": get_cool_off(request),
        "title": "登录已暂时锁定",
    }
    template = "admin/errors/locked_out.html" if is_staff_path(request) else settings.AXES_LOCKOUT_TEMPLATE
    return render(request, template, context, status=settings.AXES_HTTP_RESPONSE_CODE)
