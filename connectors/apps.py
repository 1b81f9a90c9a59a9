from django.apps import AppConfig
from django.core import checks


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors and card catalog"

    def ready(self) -> None:
        # Importing the card modules registers their cards; Qualtrics first, then the functions.
        import connectors.qualtrics.cards  # noqa: F401
        import connectors.functions  # noqa: F401
        from connectors.checks import check_card_declarations

        checks.register(check_card_declarations, "connectors")
