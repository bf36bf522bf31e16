"""WebSocket routes. The live queue (/ws/agent/) arrives with the dispatch issue."""

websocket_urlpatterns: list = []
