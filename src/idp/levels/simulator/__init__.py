"""The registry simulator: a small ASGI app standing in for the state registries (``idp registry-sim``, and in dev mode ``/_registry-sim``)."""
