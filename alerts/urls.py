from django.urls import path

from alerts import api, views

urlpatterns = [
    path("flows/<int:pk>/alerts/", views.flow_alerts_save, name="flow_alerts"),
    path("api/flows/<int:pk>/alerts/", api.FlowAlertApi.as_view(), name="api_flow_alerts"),
]
