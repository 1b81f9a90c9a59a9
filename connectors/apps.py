from importlib import import_module

from django.apps import AppConfig
from django.core import checks

# Importing these registers their cards; the catalog lists groups in this order.
CARD_MODULES = ("connectors.qualtrics.cards", "connectors.functions")


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors and card catalog"

    def ready(self) -> None:
        for module in CARD_MODULES:
            import_module(module)
        from connectors.checks import check_card_declarations

        checks.register(check_card_declarations, "connectors")
