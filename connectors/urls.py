from django.urls import path

from connectors import views

urlpatterns = [
    path("catalog/", views.catalog_page, name="catalog"),
]
