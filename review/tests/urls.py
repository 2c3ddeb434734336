"""The site's URLs with review's included, whether or not config/urls.py includes them yet."""

from django.urls import include, path

from config.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("", include("review.urls"))]
