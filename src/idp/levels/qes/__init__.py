"""Confirming an account with a qualified electronic signature (method ``qes``): a one-time
challenge bound to the account, the signature over it verified by ``idp.signatures``, the
certificate's SNILS and name matched to the account's verified data, and the account raised to
confirmed with its level history entry, audit record and notice in one transaction."""
