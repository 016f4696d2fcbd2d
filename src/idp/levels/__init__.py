"""How an account earns its level: the person's data (``personal_data``), registry checks run as
durable jobs (``verification``), the verifier plug-ins that ask the registries (``verifiers``),
the bundled registry simulator (``simulator``) and confirming an account with a qualified
e-signature (``qes``). What the levels are is ``idp.assurance``."""
