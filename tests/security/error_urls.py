"""The site's addresses plus two that fail, for the server error page tests."""

from django.db import OperationalError
from django.urls import path

from config.urls import handler403, handler404, handler500, urlpatterns as site_urlpatterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def crash(request):
    raise OperationalError("the database went away")


urlpatterns = [path("flows/crash/", crash), path("api/crash/", crash), *site_urlpatterns]
