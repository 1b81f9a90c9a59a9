"""Signals other apps receive about teams, so that accounts never imports them."""

from django.dispatch import Signal

# Sent with `team` just before a team is deleted, while its flows, configurations and runs still
# exist: receivers undo what the team set up outside the database (designer/receivers.py
# deactivates its flows, which removes the subscriptions they made with their services).
team_deleting = Signal()

# Sent with `configuration` inside the transaction that deletes it, before the delete: receivers
# stop using it (designer/receivers.py deactivates the flows that use it) and return the list of
# the names of the flows they deactivated.
configuration_deleting = Signal()

# Sent with `configuration` to ask who uses it: receivers return a list of flow names.
configuration_users = Signal()
