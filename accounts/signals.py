"""Signals other apps receive about teams, so that accounts never imports them."""

from django.dispatch import Signal

# Sent with `team` just before a team is deleted, while its flows, configurations and runs still
# exist: receivers undo what the team set up outside the database (designer/receivers.py
# deactivates its flows, which removes their Qualtrics subscriptions).
team_deleting = Signal()
