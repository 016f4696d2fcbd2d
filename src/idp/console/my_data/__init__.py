"""The console's "My data" page (``/account/personal-data``): the person's data for the standard
level, the registry checks run on it and the level history (issue 10)."""
