"""A person's identity data for the standard level: validation (check digits included),
storage, the REST API; the "My data" page calls the same validation and service."""
