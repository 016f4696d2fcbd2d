"""Fetching CRLs (RFC 5280) and OCSP responses (RFC 6960) for the checker, cached by their own
validity (``fetcher.RevocationFetcher``)."""
