"""The built-in demo relying party (dev mode only): "try a login" from the start page.

It is a client like any other: registered as ``idp-demo`` at start-up (``registration``), and at
run time it speaks to this server only over HTTP, at the issuer's URL (``relying_party``):
discovery, the authorization code flow with PKCE, the token endpoint, the JWKS, userinfo and
RP-initiated logout. Its only state is two sealed cookies on ``/demo`` (``cookies``).
"""
