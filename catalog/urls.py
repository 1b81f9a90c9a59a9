from django.urls import path

from catalog import api, views

urlpatterns = [
    path("catalog/", views.catalog_page, name="catalog"),
    path("api/catalog/", api.CatalogApi.as_view(), name="api_catalog"),
    path("api/catalog/<str:key>/outputs/", api.CardOutputsApi.as_view(), name="api_card_outputs"),
    path(
        "api/configurations/<int:pk>/options/<str:source>/",
        api.OptionChoicesApi.as_view(),
        name="api_configuration_options",
    ),
]
