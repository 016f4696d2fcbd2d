"""Qualified electronic signature verification (a later issue builds the adapters here)."""
