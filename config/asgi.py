"""One ASGI application for HTTP and websockets (served by `config.server`)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.body_limit import body_limit  # noqa: E402
from config.static_asgi import static_files  # noqa: E402
from config.ws_origin import SameOriginValidator  # noqa: E402
from designer.routing import websocket_urlpatterns  # noqa: E402
from designer.webhooks import webhook_intake  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Oversized bodies are refused first (config.body_limit); Qualtrics webhook posts are stored
        # by designer.webhooks, and static files answered by config.static_asgi, before Django's
        # request handling.
        "http": body_limit(static_files(webhook_intake(django_asgi_app))),
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
