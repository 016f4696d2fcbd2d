"""Signature algorithm plug-ins (entry point group ``idp.signature_algorithms``): ``pyca`` for
RSA, RSA-PSS and ECDSA, ``gost`` for GOST R 34.10-2012 with Streebog. ``registry`` loads the
ones settings name and picks one by OID."""
