"""Registry verifiers: the plug-ins that ask state registries whether a person's data is true
(``protocol.py``), chosen by name (``registry.py``), with the built-in adapters beside them."""
