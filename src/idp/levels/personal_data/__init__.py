"""A person's identity data for the standard level: validation, storage, the REST API and the "My data" page."""
