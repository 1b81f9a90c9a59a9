"""Webhook connector: flows started by a request to their own URL."""
