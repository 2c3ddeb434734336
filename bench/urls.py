"""The portal's URLs plus /bench/bare: a Django view that does nothing, through the same middleware."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as portal_urlpatterns


@csrf_exempt
@login_not_required
def bare(request):
    """The cheapest answer Django gives: what a settlement's throughput is compared with."""
    return HttpResponse(b'{"ok": true}', content_type="application/json")


urlpatterns = [path("bench/bare", bare), *portal_urlpatterns]
