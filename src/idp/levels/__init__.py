"""How an account earns its level: the person's data (``personal_data``), registry checks run as
durable jobs (``verification``), the verifier plug-ins that ask the registries (``verifiers``) and
the bundled registry simulator (``simulator``). What the levels are is ``idp.assurance``."""
