"""URLs of the institution API, mounted at /api/v1/ by config/urls.py.

Every answer under /api/v1/ is JSON, including a wrong method and an unknown address; none of these URLs
needs a login (the institution's token is checked by the API itself).
"""

import functools

from django.http import Http404
from django.urls import include, path, re_path
from django.utils.translation import gettext as _

from .api import api, error_response


def api_view(view):
    """Wrap one of ninja's views: no portal login, no CSRF (no cookies are used), JSON for 404 and 405."""

    @functools.wraps(view, assigned=("__doc__",), updated=())
    def wrapped(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found(request)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return error_response(
                "method_not_allowed",
                _("该地址不支持 %(method)s 方法。") % {"method": request.method},
                headers={"Allow": response.get("Allow", "")},
            )
        return response

    wrapped.csrf_exempt = True
    wrapped.login_required = False
    return wrapped


def not_found(request, *args, **kwargs):
    return error_response("not_found", _("没有这个接口地址。接口说明见 /api/v1/docs。"))


not_found.login_required = False

# Not unpacked into `app_name`: a module-level app_name would make this whole module a namespace.
ninja_patterns, ninja_app, ninja_namespace = api.urls
for pattern in ninja_patterns:
    pattern.callback = api_view(pattern.callback)

urlpatterns = [
    path("", include((ninja_patterns, ninja_app), namespace=ninja_namespace)),
    re_path(r"^", not_found),
]
