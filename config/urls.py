from django.contrib import admin
from django.urls import include, path

handler403 = "accounts.errors.permission_denied"
handler404 = "accounts.errors.page_not_found"
handler500 = "accounts.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("review.urls")),
    path("sharing/", include("sharing.urls")),
    path("withdrawals/", include("withdrawals.urls")),
    path("transfers/", include("transfers.urls")),
    path("api/v1/", include("sharing.api_urls")),
]
