from django.urls import path

from . import views

app_name = "sharing"

urlpatterns = [
    path("", views.index, name="index"),
    path("received/", views.received, name="received"),
    path("new/", views.bind, name="bind"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/statement.csv", views.statement, name="statement"),
    path("<int:pk>/confirm/", views.confirm, name="confirm"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/end/", views.end, name="end"),
    path("<int:pk>/top-up/", views.top_up, name="top_up"),
    path("<int:pk>/premium/<slug:kind>/", views.premium, name="premium"),
    path("<int:pk>/move/", views.move, name="move"),
]
