from django.urls import path

from . import views

app_name = "transfers"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.apply, name="apply"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/id-card/", views.replace_id_card, name="replace_id_card"),
    path("<int:pk>/resubmit/", views.resubmit, name="resubmit"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/record/", views.record, name="record"),
    path("<int:pk>/record.pdf", views.record_download, name="record_pdf"),
    path("<int:pk>/receipt/<slug:kind>/", views.receipt, name="receipt"),
    path("<int:pk>/receipt/<slug:kind>.pdf", views.receipt_download, name="receipt_pdf"),
]
