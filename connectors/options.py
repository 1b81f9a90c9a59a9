"""Services behind the editor's pickers: choices loaded from an account, and a card's outputs
for the options chosen (a survey's questions).

Answers are cached for a minute per configuration and token, so opening the same picker twice
does not call Qualtrics twice, and a new token never sees choices loaded with the old one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.utils.crypto import salted_hmac

from connectors.http import ConnectorError
from connectors.specs import SOURCE_PARAMS, SOURCES, Card, Field

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60
# A picker waits for Qualtrics while someone watches: one quick retry, not the engine's minute.
CLIENT_OPTIONS: dict[str, Any] = {"timeout": (5, 20), "max_retries": 1, "max_retry_seconds": 5}


class OptionsError(Exception):
    """Choices or outputs could not be loaded; `message` is for the person editing the flow.

    `status` is 400 when the request or the account is at fault (bad token, missing right,
    unknown id) and 502 when Qualtrics itself failed or is rate limiting.
    """

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# Loaders, one per source ------------------------------------------------------------------------


def _choices(items: list[dict[str, Any]], id_key: str) -> list[dict[str, str]]:
    found = [
        {"value": str(item[id_key]), "label": str(item.get("name") or item[id_key])}
        for item in items
        if isinstance(item, Mapping) and item.get(id_key)
    ]
    return sorted(found, key=lambda c: (c["label"].casefold(), c["value"]))


LOADERS: dict[str, Callable[..., list[dict[str, str]]]] = {
    "surveys": lambda client: _choices(client.list_surveys(), "id"),
    "directories": lambda client: _choices(client.list_directories(), "directoryId"),
    "mailing_lists": lambda client, directory_id: _choices(client.list_mailing_lists(directory_id), "mailingListId"),
    "groups": lambda client: _choices(client.list_groups(), "id"),
}
SOURCE_NAMES = {
    "surveys": "surveys",
    "directories": "directories",
    "mailing_lists": "mailing lists",
    "groups": "groups",
}
PARAM_LABELS = {"directory_id": "a directory"}


# Plumbing ----------------------------------------------------------------------------------------


def _cache_key(configuration: Any, kind: str, params: Mapping[str, Any]) -> str:
    token_fingerprint = salted_hmac(
        "connectors.options.token", configuration.api_token or "", algorithm="sha256"
    ).hexdigest()[:16]
    params_digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"connectors:{kind}:{configuration.pk}:{configuration.datacenter}:{token_fingerprint}:{params_digest}"


def explain(exc: ConnectorError, configuration: Any) -> OptionsError:
    """A Qualtrics failure in words for the editor, with the status the API answers."""
    from connectors.qualtrics import errors

    name = f"“{configuration.name}”"
    if isinstance(exc, errors.InvalidDatacenterError):
        return OptionsError(f"The data center ID of {name} is not valid. Fix it on the Configurations page.")
    if isinstance(exc, errors.AuthenticationError):
        return OptionsError(
            f"Qualtrics refused the API token of {name}. Check the token and the data center ID, then "
            "authorize it again on the Configurations page."
        )
    if isinstance(exc, errors.PermissionDeniedError):
        return OptionsError(f"{exc.message} (configuration {name})")
    if isinstance(exc, (errors.NotFoundError, errors.ValidationError, errors.UnsafeRequestError)):
        return OptionsError(exc.message)
    if isinstance(exc, errors.RateLimitedError):
        return OptionsError(f"Qualtrics is rate limiting {name}. Try again in a minute.", status=502)
    if isinstance(exc, errors.TransientError):
        return OptionsError(f"Qualtrics did not answer for {name}: {exc.message} Try again shortly.", status=502)
    return OptionsError(f"Qualtrics answered with an error for {name}: {exc.message}", status=502)


@contextmanager
def _qualtrics_calls(configuration: Any):
    try:
        yield
    except ConnectorError as exc:
        logger.info(
            "Loading choices with configuration %s failed: %s (status %s, request id %s)",
            configuration.pk,
            type(exc).__name__,
            exc.status,
            exc.request_id,
        )
        raise explain(exc, configuration) from exc


def _client(configuration: Any):
    from connectors.qualtrics.client import QualtricsClient

    return QualtricsClient.for_configuration(configuration, **CLIENT_OPTIONS)


def _cached(key: str, load: Callable[[], Any], *, refresh: bool) -> Any:
    if not refresh:
        found = cache.get(key)
        if found is not None:
            return found
    value = load()
    cache.set(key, value, CACHE_SECONDS)
    return value


# Services ----------------------------------------------------------------------------------------


def option_choices(
    *, configuration: Any, source: str, params: Mapping[str, Any], refresh: bool = False
) -> list[dict[str, str]]:
    """`[{"value", "label"}]` for a picker, loaded from the configuration's account."""
    if source not in SOURCES:
        raise OptionsError(f"There is no option source '{source}'. Known sources: {', '.join(SOURCES)}.", status=404)
    needed = {}
    for param in SOURCE_PARAMS[source]:
        value = str(params.get(param) or "").strip()
        if not value:
            raise OptionsError(f"Choose {PARAM_LABELS.get(param, param)} first to load its {SOURCE_NAMES[source]}.")
        needed[param] = value

    def load() -> list[dict[str, str]]:
        with _qualtrics_calls(configuration):
            client = _client(configuration)
            try:
                return LOADERS[source](client, **needed)
            finally:
                client.close()

    return _cached(_cache_key(configuration, f"options:{source}", needed), load, refresh=refresh)


def card_outputs(
    *, card: Card, configuration: Any | None, options: Mapping[str, Any], refresh: bool = False
) -> list[dict[str, Any]]:
    """A card's outputs as catalog fields: the declared ones, plus those its chosen options add."""
    declared = [f.to_json() for f in card.outputs]
    chosen = {f.key: str(options[f.key]).strip() for f in card.options if str(options.get(f.key) or "").strip()}
    if card.dynamic_outputs is None or not chosen:
        return declared
    if configuration is None:
        raise OptionsError("Choose a configuration to load the outputs for these options.")
    dynamic_outputs = card.dynamic_outputs

    def load() -> list[dict[str, Any]]:
        with _qualtrics_calls(configuration):
            client = _client(configuration)
            try:
                extra: tuple[Field, ...] = dynamic_outputs(client, chosen)
            finally:
                client.close()
        return [f.to_json() for f in extra]

    extra = _cached(_cache_key(configuration, f"outputs:{card.key}", chosen), load, refresh=refresh)
    return declared + extra
