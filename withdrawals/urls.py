from django.urls import path

from . import views

app_name = "withdrawals"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.choose_reason, name="choose_reason"),
    path("new/<slug:code>/", views.start, name="start"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/materials/<slug:kind>/", views.upload, name="upload"),
    path("<int:pk>/materials/<int:material_pk>/remove/", views.remove_material, name="remove_material"),
    path("<int:pk>/bank/", views.change_bank, name="change_bank"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/receipt/<slug:kind>/", views.receipt, name="receipt"),
    path("<int:pk>/receipt/<slug:kind>.pdf", views.receipt_download, name="receipt_pdf"),
]
