"""Error pages that speak to whoever met the error: clerks in the admin's look, citizens in the portal's.

One chooser for every handler, so that a page of the other side (a citizen's own 403, 404 and 500 pages)
is a template away: `templates/admin/errors/` for staff paths, `templates/` for the rest.
"""

import logging

from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve, reverse

logger = logging.getLogger("django.request")


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


class PortalErrorPagesMiddleware:
    """Show the portal's own 403, 404 and 500 pages also while DEBUG is on (as under `make run`).

    A newcomer tries the portal with `make run`, and a citizen there must not meet Django's English debug
    page listing every URL. Developers get those pages back with DEBUG_ERROR_PAGES=true. With DEBUG off
    Django already calls the handlers in config/urls.py, and this middleware stands aside.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def _active(self):
        return settings.DEBUG and not settings.DEBUG_ERROR_PAGES

    def __call__(self, request):
        if self._active():
            # An address no pattern matches never reaches a view, so process_exception never sees it.
            try:
                resolve(request.path_info)
            except Resolver404 as exception:
                return page_not_found(request, exception)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not self._active():
            return None
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        logger.error(
            "Internal Server Error: %s", request.path, exc_info=exception, extra={"request": request}
        )
        return server_error(request)
