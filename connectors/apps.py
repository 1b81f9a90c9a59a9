from django.apps import AppConfig
from django.core import checks


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors and card catalog"

    def ready(self) -> None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        from connectors.checks import check_card_declarations
        from connectors.registry import register_connector

        # settings.CONNECTORS names each connector's declaration; the catalog lists them in order.
        for path in settings.CONNECTORS:
            register_connector(import_string(path))
        checks.register(check_card_declarations, "connectors")
