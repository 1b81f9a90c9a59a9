"""The Schedule connector: starts flows every N minutes or at the times of a cron expression."""
