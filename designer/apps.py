from django.apps import AppConfig


class DesignerConfig(AppConfig):
    name = "designer"
    verbose_name = "Flows and runs"

    def ready(self):
        from designer import receivers  # noqa: F401  (connects them)
