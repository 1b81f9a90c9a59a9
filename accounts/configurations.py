"""Services for configurations, the saved connections of any connector: create, update,
authorize, delete, rotate keys.

What a connection holds is declared by its connector (`Connector.credentials`); its name for
people is the connector's `connection_label`. Nothing here knows a particular connector.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.crypto import decrypt_text, encrypt_text, is_current
from accounts.models import Configuration, ConfigurationStatus, Membership
from accounts.signals import configuration_deleting, configuration_users

logger = logging.getLogger(__name__)

CREDENTIAL_MAX_CHARS = 2_000


class ConfigurationInputError(ValueError):
    """Bad input for a configuration; `field` names the form field it concerns."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def connectors_with_credentials() -> list:
    """The registered connectors whose cards need a connection, in catalog order."""
    from connectors.registry import registry

    return [c for c in registry.connectors() if c.needs_connection]


def connector_for(key: str):
    """The connector `key` when it takes connections; ConfigurationInputError("connector") otherwise."""
    from connectors.registry import UnknownConnectorError, registry

    try:
        connector = registry.connector(str(key or ""))
    except UnknownConnectorError as exc:
        raise ConfigurationInputError("connector", str(exc)) from None
    if not connector.needs_connection:
        raise ConfigurationInputError("connector", f"{connector.name} needs no {connector.connection_label}.")
    return connector


def _label(connector) -> str:
    return connector.connection_label


def _clean_name(*, team, connector, name: Any, exclude_pk: int | None = None) -> str:
    label = _label(connector)
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ConfigurationInputError("name", f"Give the {label} a name.")
    if len(name) > 100:
        raise ConfigurationInputError("name", "Use at most 100 characters for the name.")
    clash = Configuration.objects.filter(team=team, name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ConfigurationInputError("name", f"Your team already has a {label} named “{name}”. Choose another name.")
    return name


def _clean_credentials(connector, values: Mapping[str, Any], *, stored: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connector's credential fields from `values`: stripped text, required ones present.

    With `stored` (an update), a blank secret keeps the stored one. Unknown keys are ignored.
    """
    values = values if isinstance(values, Mapping) else {}
    cleaned: dict[str, str] = {}
    for spec in connector.credentials:
        raw = values.get(spec.key, "")
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise ConfigurationInputError(spec.key, f"{spec.label} must be text.")
        value = raw.strip()
        if "\x00" in value:
            raise ConfigurationInputError(spec.key, f"{spec.label} cannot contain a NUL character.")
        if len(value) > CREDENTIAL_MAX_CHARS:
            raise ConfigurationInputError(spec.key, f"{spec.label} is longer than {CREDENTIAL_MAX_CHARS:,} characters.")
        if not value and spec.secret and stored is not None:
            value = str(stored.get(spec.key) or "")
        if spec.required and not value:
            hint = f" ({spec.help.rstrip('.')})" if spec.help else ""
            raise ConfigurationInputError(spec.key, f"Fill in {spec.label}{hint}.")
        cleaned[spec.key] = value
    if connector.clean_credentials is not None:
        from connectors.specs import CredentialsError

        try:
            cleaned = dict(connector.clean_credentials(dict(cleaned)))
        except CredentialsError as exc:
            raise ConfigurationInputError(exc.field, exc.message) from None
        declared = {f.key for f in connector.credentials}
        cleaned = {k: v for k, v in cleaned.items() if k in declared}
    return cleaned


def configuration_create(
    *, membership: Membership, connector: str, name: str, credentials: Mapping[str, Any], shared: bool = False
) -> Configuration:
    """Saves a new connection of `connector` for the member's team, then authorizes it."""
    if not membership.can_edit:
        raise PermissionError("Viewers cannot add configurations.")
    spec = connector_for(connector)
    name = _clean_name(team=membership.team, connector=spec, name=name)
    cleaned = _clean_credentials(spec, credentials)
    configuration = Configuration(
        team=membership.team, owner=membership.user, connector=spec.key, name=name, shared=bool(shared)
    )
    configuration.credentials = cleaned
    configuration.save()
    return configuration_authorize(configuration=configuration)


def configuration_update(
    *, configuration: Configuration, name: str, credentials: Mapping[str, Any], shared: bool
) -> Configuration:
    """Changes it; a blank secret keeps the stored one. Authorized again when a credential changed."""
    spec = connector_for(configuration.connector)
    name = _clean_name(team=configuration.team, connector=spec, name=name, exclude_pk=configuration.pk)
    stored = configuration.credentials
    cleaned = _clean_credentials(spec, credentials, stored=stored)
    keys = {f.key for f in spec.credentials}
    reauthorize = any(str(stored.get(k) or "") != cleaned.get(k, "") for k in keys)
    configuration.name = name
    configuration.shared = bool(shared)
    if reauthorize:
        configuration.credentials = cleaned
    configuration.save()
    if reauthorize:
        configuration = configuration_authorize(configuration=configuration)
    return configuration


def configuration_client(configuration: Configuration, **options: Any):
    """A client of the configuration's connector for its credentials (options: timeouts, retries)."""
    spec = configuration.connector_spec()
    if spec.client is None:
        raise ValueError(f"{spec.name} has no client.")
    return spec.client(configuration.credentials, **options)


def configuration_authorize(*, configuration: Configuration) -> Configuration:
    """Proves the credentials with the connector's `authorize` and records whom they belong to,
    or why it failed."""
    from connectors.http import ConnectorError

    try:
        spec = connector_for(configuration.connector)
    except ConfigurationInputError as exc:
        configuration.status = ConfigurationStatus.FAILED
        configuration.status_message = exc.message[:500]
        configuration.save()
        return configuration
    try:
        if spec.client is None or spec.authorize is None:
            raise ConnectorError(f"{spec.name} cannot check its {spec.connection_label}s.")
        # A person waits on the answer: one quick retry, not the engine's patient back-off.
        client = spec.client(configuration.credentials, max_retries=1, max_retry_seconds=5)
        account = spec.authorize(client)
    except ConnectorError as exc:
        configuration.status = ConfigurationStatus.FAILED
        configuration.status_message = spec.describe_error(exc, configuration.name)[:500]
        logger.info("Configuration %s failed to authorize: %s", configuration.pk, type(exc).__name__)
    else:
        configuration.status = ConfigurationStatus.AUTHORIZED
        configuration.account_id = str(account.id or "")[:100]
        configuration.account_name = str(account.name or "")[:150]
        configuration.account_details = {str(k): str(v) for k, v in dict(account.details or {}).items()}
        configuration.authorized_at = timezone.now()
        configuration.status_message = f"Authorized as {configuration.account_name or configuration.account_id}."[:500]
    configuration.save()
    return configuration


def configuration_user_names(*, configuration: Configuration) -> list[str]:
    """Names of the flows that use it, as the receivers of `configuration_users` answer."""
    names: list[str] = []
    for _receiver, result in configuration_users.send(sender=Configuration, configuration=configuration):
        names.extend(result or [])
    return names


def configuration_delete(*, configuration: Configuration) -> list[str]:
    """Deletes it; receivers of `configuration_deleting` deactivate the flows that used it with a
    reason. Returns those flows' names."""
    names: list[str] = []
    with transaction.atomic():
        for _receiver, result in configuration_deleting.send(sender=Configuration, configuration=configuration):
            names.extend(result or [])
        configuration.delete()
    return names


def configurations_rotate_key() -> tuple[int, int]:
    """Re-encrypts every secret with the first FIELD_ENCRYPTION_KEY; returns (re-encrypted, total)."""
    changed = total = 0
    with transaction.atomic():
        for configuration in Configuration.objects.select_for_update().only("pk", "secret_credentials_encrypted"):
            total += 1
            ciphertext = configuration.secret_credentials_encrypted
            if not ciphertext or is_current(ciphertext):
                continue
            plaintext = decrypt_text(ciphertext)  # raises on an unknown key
            Configuration.objects.filter(pk=configuration.pk).update(secret_credentials_encrypted=encrypt_text(plaintext))
            changed += 1
    return changed, total
