"""Services for Qualtrics configurations: create, update, authorize, delete, rotate keys."""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.utils import timezone

from accounts.crypto import decrypt_text, encrypt_text, is_current
from accounts.models import Configuration, ConfigurationStatus, Membership

logger = logging.getLogger(__name__)

DATACENTER_RE = re.compile(r"^[A-Za-z0-9]{1,30}$")


class ConfigurationInputError(ValueError):
    """Bad input for a configuration; `field` names the form field it concerns."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _clean(*, team, name: str, datacenter: str, exclude_pk: int | None = None) -> tuple[str, str]:
    name = (name or "").strip()
    datacenter = (datacenter or "").strip().lower()
    if not name:
        raise ConfigurationInputError("name", "Give the configuration a name.")
    if not DATACENTER_RE.match(datacenter):
        raise ConfigurationInputError(
            "datacenter", "The data center ID has only letters and digits, like us1 in us1.qualtrics.com."
        )
    clash = Configuration.objects.filter(team=team, name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ConfigurationInputError("name", f"Your team already has a configuration named “{name}”. Choose another name.")
    return name, datacenter


def configuration_create(
    *, membership: Membership, name: str, datacenter: str, api_token: str, username: str = "", shared: bool = False
) -> Configuration:
    if not membership.can_edit:
        raise PermissionError("Viewers cannot add configurations.")
    name, datacenter = _clean(team=membership.team, name=name, datacenter=datacenter)
    api_token = (api_token or "").strip()
    if not api_token:
        raise ConfigurationInputError("api_token", "Paste the API token from Qualtrics (Account Settings → Qualtrics IDs).")
    configuration = Configuration(
        team=membership.team, owner=membership.user, name=name, datacenter=datacenter,
        username=(username or "").strip(), shared=shared,
    )
    configuration.api_token = api_token
    configuration.save()
    return configuration_authorize(configuration=configuration)


def configuration_update(
    *, configuration: Configuration, name: str, datacenter: str, username: str, api_token: str = "", shared: bool
) -> Configuration:
    name, datacenter = _clean(team=configuration.team, name=name, datacenter=datacenter, exclude_pk=configuration.pk)
    reauthorize = bool(api_token.strip()) or datacenter != configuration.datacenter
    configuration.name, configuration.datacenter = name, datacenter
    configuration.username = (username or "").strip()
    configuration.shared = shared
    if api_token.strip():
        configuration.api_token = api_token.strip()
    configuration.save()
    if reauthorize:
        configuration = configuration_authorize(configuration=configuration)
    return configuration


def _explain(exc: Exception, datacenter: str) -> str:
    from connectors.qualtrics import errors

    if isinstance(exc, errors.InvalidDatacenterError):
        return "The data center ID has only letters and digits, like us1 in us1.qualtrics.com."
    if isinstance(exc, errors.AuthenticationError):
        return (
            "Qualtrics refused this API token. Check the token, and that the data center ID "
            f"“{datacenter}” matches your Qualtrics address (us1 in us1.qualtrics.com)."
        )
    if isinstance(exc, errors.PermissionDeniedError):
        return "The token is valid but this account has no API access. Ask your Qualtrics brand administrator to enable the API permission."
    if isinstance(exc, errors.RateLimitedError):
        return "Qualtrics is rate limiting this account. Try again in a minute."
    if isinstance(exc, errors.TransientError):
        return f"Could not reach Qualtrics at data center “{datacenter}”. Check the data center ID and your network, then try again."
    return f"Qualtrics answered with an error: {getattr(exc, 'message', exc)}"


def configuration_authorize(*, configuration: Configuration) -> Configuration:
    """Proves the token with `GET whoami` and records who it belongs to, or why it failed."""
    from connectors.http import ConnectorError
    from connectors.qualtrics.client import QualtricsClient

    try:
        # A person waits on the answer: one quick retry, not the engine's patient back-off.
        me = QualtricsClient.for_configuration(configuration, max_retries=1, max_retry_seconds=5).whoami()
    except ConnectorError as exc:
        configuration.status = ConfigurationStatus.FAILED
        configuration.status_message = _explain(exc, configuration.datacenter)
        logger.info("Configuration %s failed to authorize: %s", configuration.pk, type(exc).__name__)
    else:
        configuration.status = ConfigurationStatus.AUTHORIZED
        full_name = " ".join(p for p in [me.get("firstName"), me.get("lastName")] if p)
        configuration.qualtrics_user_name = me.get("userName") or full_name
        configuration.qualtrics_user_id = me.get("userId", "")
        configuration.brand_id = me.get("brandId", "")
        configuration.authorized_at = timezone.now()
        configuration.status_message = f"Authorized as {configuration.qualtrics_user_name or configuration.qualtrics_user_id}."
    configuration.save()
    return configuration


def configuration_delete(*, configuration: Configuration) -> list[str]:
    """Deletes it; flows that used it are deactivated with a reason. Returns their names."""
    from designer.services import flows_detach_configuration

    with transaction.atomic():
        names = flows_detach_configuration(configuration=configuration)
        configuration.delete()
    return names


def configurations_rotate_key() -> tuple[int, int]:
    """Re-encrypts every secret with the first FIELD_ENCRYPTION_KEY; returns (re-encrypted, total)."""
    changed = total = 0
    with transaction.atomic():
        for configuration in Configuration.objects.select_for_update().only("pk", "api_token_encrypted"):
            total += 1
            if not configuration.api_token_encrypted or is_current(configuration.api_token_encrypted):
                continue
            plaintext = decrypt_text(configuration.api_token_encrypted)  # raises on an unknown key
            Configuration.objects.filter(pk=configuration.pk).update(api_token_encrypted=encrypt_text(plaintext))
            changed += 1
    return changed, total
