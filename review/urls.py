from django.urls import path

from . import views

urlpatterns = [
    path("materials/<int:pk>/", views.material_download, name="material_download"),
]
