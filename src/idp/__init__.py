"""idp: an OpenID Connect identity provider for government-grade identity."""

__version__ = "0.1.0"
