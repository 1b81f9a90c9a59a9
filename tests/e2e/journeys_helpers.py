"""For journeys that watch pages update live: a live server that also speaks websockets."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class WebsocketLiveServer:
    """The product's server (`config.server`, uvicorn) serving the project's ASGI application
    (HTTP, websockets and static files) from a thread of the test process, like pytest-django's
    `live_server`, whose server speaks WSGI only. Settings a test changes apply to it; its
    database is the test database."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        from django.test.utils import modify_settings

        # Enabled and disabled around each test by pytest-django's `_live_server_helper`.
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": self.host})
        self.server = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.url

    def start(self) -> WebsocketLiveServer:
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from config.asgi import application
        from config.server import server_config
        from tests.processes import ServerThread

        config = server_config(ASGIStaticFilesHandler(application), host=self.host, port=0, access_log=False)
        self.server = ServerThread(config, name="live-server")
        self.port = self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
