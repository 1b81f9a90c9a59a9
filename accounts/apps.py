from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and teams"

    def ready(self):
        # django-cryptography configures itself on first import; doing it here keeps a test's
        # overridden settings from leaving it half configured.
        from accounts import crypto  # noqa: F401
