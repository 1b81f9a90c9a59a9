from django.urls import path

from designer.consumers import FlowConsumer, RunsConsumer

websocket_urlpatterns = [
    path("ws/flows/<int:flow_id>/", FlowConsumer.as_asgi()),
    path("ws/runs/", RunsConsumer.as_asgi()),
]
