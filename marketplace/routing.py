"""WebSocket routes (daphne). The protocol: docs/protocols/agent-websocket.md."""

from django.urls import path

from gigs.consumers import AgentConsumer, CustomerConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/customer/<str:token>/", CustomerConsumer.as_asgi()),
]
