"""Connector state kept in the database."""

from __future__ import annotations

from django.db import models


class RateLimitBucket(models.Model):
    """One token bucket of the shared rate limiter (connectors/ratelimit.py): `tokens` left at
    `updated` (a Unix time). Every worker process reads and writes it in one transaction."""

    key = models.CharField(max_length=200, unique=True)
    tokens = models.FloatField()
    updated = models.FloatField()

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.1f}"
