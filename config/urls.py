from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "医保个人账户服务 · 经办管理"
admin.site.site_title = "医保经办管理"
admin.site.index_title = "经办业务"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("review.urls")),
    path("sharing/", include("sharing.urls")),
    path("withdrawals/", include("withdrawals.urls")),
    path("transfers/", include("transfers.urls")),
    path("api/v1/", include("sharing.api_urls")),
]
