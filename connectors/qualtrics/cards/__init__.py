"""Qualtrics cards. Importing this package registers every one of them, in catalog order."""

from importlib import import_module

MODULES = ("responses", "surveys", "imports", "users", "groups", "contacts", "mailing_lists", "custom")

for _module in MODULES:
    import_module(f"{__name__}.{_module}")
