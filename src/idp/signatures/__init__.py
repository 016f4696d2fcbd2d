"""Qualified electronic signatures: whether a person controls a qualified certificate issued by
an accredited CA, and who the certificate says they are.

- ``result``: what a verification ends with (``Verification``: the exact ``Reason`` when it
  fails, the certificate's ``Identity`` and ``Qualification`` when it passes).
- ``protocol``: the ``typing.Protocol``s behind which the parts plug in: signature algorithms
  (entry point group ``idp.signature_algorithms``), qualified certificate profiles, revocation
  sources.
- ``algorithms/``: the algorithm plug-ins (``pyca``: RSA and ECDSA; ``gost``: GOST R 34.10-2012
  with Streebog) and their registry.
- ``cms``, ``paths``, ``profiles/``, ``checker``: the verification itself (CMS checked by idp
  for every algorithm; the certificate path, key usage and revocation by
  pyhanko-certvalidator), its CPU work in a pool off the event loop.
- ``revocation/``: CRLs and OCSP responses fetched with httpx and cached until their nextUpdate.
- ``trust/``: the trust list of accredited CAs (files, ETSI TS 119 612, the Russian list), kept
  in the database, refreshed by a job, cached per instance behind a generation counter.
- ``dev/``: the development CA (dev mode only) and the kit that makes certificates, CRLs, OCSP
  responses and signatures for it and for the tests.

Nothing here knows accounts: ``idp.levels.qes`` uses a verification to confirm one.
"""
