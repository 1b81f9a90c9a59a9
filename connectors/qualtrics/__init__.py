"""The Qualtrics connector: API client, typed errors, cards and a local sandbox of the v3 API."""
