"""A hand-written OpenAPI 3.1 description of the protocol endpoints.

The protocol routes read their parameters themselves (each at most once, RFC 6749 §3.1), so
they are registered with ``include_in_schema=False`` and FastAPI cannot describe them. This
module does, for ``idp.openapi_export``: OpenID Connect Discovery 1.0 and RFC 8414 (metadata),
RFC 7517 (JWKS), RFC 6749 and OIDC Core 1.0 (authorize, token, userinfo), RFC 7636 (PKCE),
RFC 9207 (``iss``), RFC 6750 (bearer tokens), RFC 7662 (introspection), RFC 7009 (revocation).
"""

from __future__ import annotations

from typing import Any

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
NO_STORE = {
    "Cache-Control": {
        "description": "`no-store`: tokens and errors are never cached.",
        "schema": {"type": "string"},
    }
}

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _str(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def _object(properties: dict[str, Schema], required: list[str], description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "required": required,
        "properties": properties,
    }


def _or_empty(schema: Schema) -> Schema:
    """An optional request parameter: RFC 6749 §3.1 treats one sent without a value as omitted,
    so the empty string is valid besides what the parameter's own constraints allow."""
    constraint = {k: v for k, v in schema.items() if k not in ("description", "examples")}
    if set(constraint) <= {"type"}:
        return schema
    return {
        "description": schema["description"] + " Sent empty: as if omitted.",
        "anyOf": [constraint, {"type": "string", "maxLength": 0}],
    }


def _request(properties: dict[str, Schema], required: list[str], description: str) -> Schema:
    """A request's form: its optional parameters may be sent empty (``_or_empty``)."""
    return _object(
        {name: s if name in required else _or_empty(s) for name, s in properties.items()},
        required,
        description,
    )


def _json(schema: str, description: str, media_type: str = JSON) -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": _ref(schema)}}}


def _oauth_error(description: str, *, challenge: str | None = None) -> dict[str, Any]:
    response = _json("OAuthError", description)
    headers: dict[str, Any] = dict(NO_STORE)
    if challenge:
        headers["WWW-Authenticate"] = {"description": challenge, "schema": {"type": "string"}}
    response["headers"] = headers
    return response


def _bearer_refusal(description: str, challenge: str) -> dict[str, Any]:
    """A protected resource's refusal (RFC 6750 §3): the challenge says it all, no body."""
    return {
        "description": description,
        "headers": {
            **NO_STORE,
            "WWW-Authenticate": {
                "description": challenge,
                "required": True,
                "schema": {"type": "string", "pattern": '^Bearer realm="idp"'},
            },
        },
    }


def _form(schema: str, description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {FORM: {"schema": _ref(schema)}},
    }


TOO_LARGE = _oauth_error("The request body is over 64 KiB (`invalid_request`).")
# web/repost.py: a cross-site POST without the SSO cookie (SameSite=Lax) is re-posted once.
REPOST_PAGE = {
    "description": (
        "A cross-site POST that came without the session cookie: a page that posts the same "
        "parameters again from this origin (by script, or its button), with "
        "`idp_same_site_repost=1`, so the browser sends its session cookie."
    ),
    "content": {"text/html": {"schema": {"type": "string"}}},
}
CLIENT_AUTH_FAILED = _oauth_error(
    "Client authentication failed (`invalid_client`).",
    challenge='`Basic realm="idp"` when client authentication failed.',
)
# RFC 6749 §2.3: HTTP Basic, or credentials in the body (client_secret_post, private_key_jwt,
# or client_id alone for a public client); the empty requirement stands for the body methods.
CLIENT_SECURITY: list[dict[str, list[str]]] = [{"clientSecretBasic": []}, {}]

CLIENT_AUTH_FIELDS: dict[str, Schema] = {
    "client_id": _str("The client; required unless HTTP Basic or a client assertion names it."),
    "client_secret": _str("client_secret_post: the secret (never together with Basic)."),
    "client_assertion_type": _str(
        "private_key_jwt (RFC 7523 §2.2).",
        enum=["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    ),
    "client_assertion": _str(
        "private_key_jwt: a JWT signed with a key from the client's registered JWKS; "
        "`iss` = `sub` = client_id, `aud` = the issuer, a fresh `jti`."
    ),
}

AUTHORIZATION_FIELDS: dict[str, Schema] = {
    "response_type": _str("Only the authorization code flow.", enum=["code"]),
    "client_id": _str("The registered client."),
    "redirect_uri": _str(
        "Exactly one of the client's registered redirect URIs (a public client's loopback URI "
        "may change its port, RFC 8252 §7.3).",
        format="uri",
    ),
    "scope": _str("Space-separated; must include `openid` for an ID token.", examples=["openid"]),
    "state": _str("Returned unchanged to the client."),
    "nonce": _str("Copied into the ID token (at most 512 characters)."),
    "code_challenge": _str(
        "PKCE (RFC 7636), required for every client: BASE64URL(SHA-256(code_verifier)).",
        pattern="^[A-Za-z0-9_-]{43}$",
    ),
    "code_challenge_method": _str("Only S256.", enum=["S256"]),
    "response_mode": _str("Only query.", enum=["query"]),
    "prompt": _str("Space-separated: none, login, consent, select_account."),
    "max_age": _str("Maximum seconds since the last login.", pattern="^[0-9]{1,10}$"),
    "display": _str("How the pages are shown.", enum=["page", "popup", "touch", "wap"]),
    "login_hint": _str("Prefills the login field (phone, e-mail or SNILS)."),
    "ui_locales": _str("Preferred languages of the pages, space-separated (ru, en)."),
    "acr_values": _str(
        "Space-separated levels (simplified, standard, confirmed); voluntary, never more than "
        "the account has."
    ),
}
LOGOUT_FIELDS: dict[str, Schema] = {
    "id_token_hint": _str(
        "An ID token this service issued to the client (an expired one will do); with it, "
        "the current session ends at once."
    ),
    "client_id": _str("The client, when there is no id_token_hint."),
    "post_logout_redirect_uri": _str(
        "One of the client's registered post-logout redirect URIs, exactly.", format="uri"
    ),
    "state": _str("Returned unchanged with the redirect."),
    "ui_locales": _str("Preferred languages of the pages."),
}
AUTHORIZATION_REQUIRED = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "code_challenge",
    "code_challenge_method",
]


def _schemas() -> dict[str, Schema]:
    return {
        "OAuthError": _object(
            {
                "error": _str(
                    "An RFC 6749 §5.2 / RFC 6750 §3.1 / RFC 7009 error code.",
                    examples=[
                        "invalid_request",
                        "invalid_client",
                        "invalid_grant",
                        "unauthorized_client",
                        "unsupported_grant_type",
                        "invalid_scope",
                        "invalid_token",
                        "insufficient_scope",
                    ],
                ),
                "error_description": _str("Human-readable, for the developer."),
            },
            ["error"],
            "An OAuth 2.0 error response (RFC 6749 §5.2).",
        ),
        "ProviderMetadata": {
            **_object(
                {
                    "issuer": _str("The issuer identifier.", format="uri"),
                    "authorization_endpoint": _str("", format="uri"),
                    "token_endpoint": _str("", format="uri"),
                    "userinfo_endpoint": _str("", format="uri"),
                    "jwks_uri": _str("", format="uri"),
                    "introspection_endpoint": _str("", format="uri"),
                    "revocation_endpoint": _str("", format="uri"),
                    "scopes_supported": {"type": "array", "items": {"type": "string"}},
                    "response_types_supported": {"type": "array", "items": {"type": "string"}},
                    "grant_types_supported": {"type": "array", "items": {"type": "string"}},
                    "acr_values_supported": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "The assurance levels: simplified, standard, confirmed.",
                    },
                    "code_challenge_methods_supported": {
                        "type": "array",
                        "items": {"type": "string"},
                    },
                    "authorization_response_iss_parameter_supported": {"type": "boolean"},
                },
                [
                    "issuer",
                    "authorization_endpoint",
                    "token_endpoint",
                    "jwks_uri",
                    "response_types_supported",
                    "subject_types_supported",
                    "id_token_signing_alg_values_supported",
                ],
                "OpenID Provider metadata (Discovery 1.0 §3, RFC 8414 §2).",
            ),
            "additionalProperties": True,
        },
        "JWK": {
            **_object(
                {
                    "kty": _str("Key type.", enum=["EC", "RSA", "OKP"]),
                    "kid": _str("RFC 7638 thumbprint of the key."),
                    "alg": _str(
                        "The one algorithm this key signs with.", enum=["ES256", "RS256", "EdDSA"]
                    ),
                    "use": _str("Always sig.", enum=["sig"]),
                    "crv": _str("EC and OKP curve."),
                    "x": _str("EC and OKP public coordinate."),
                    "y": _str("EC public coordinate."),
                    "n": _str("RSA modulus."),
                    "e": _str("RSA exponent."),
                },
                ["kty", "kid", "alg", "use"],
                "A public signing key (RFC 7517 §4). A new key appears here before it signs; "
                "a retired one stays until the tokens it signed have expired.",
            ),
            "additionalProperties": True,
        },
        "JWKSet": _object(
            {"keys": {"type": "array", "items": _ref("JWK")}},
            ["keys"],
            "The provider's public signing keys (RFC 7517 §5).",
        ),
        "AuthorizationRequest": _request(
            dict(AUTHORIZATION_FIELDS),
            list(AUTHORIZATION_REQUIRED),
            "An authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).",
        ),
        "TokenRequest": _request(
            {
                "grant_type": _str(
                    "The grant.",
                    enum=["authorization_code", "refresh_token", "client_credentials"],
                ),
                "code": _str("authorization_code: the code from the redirect."),
                "redirect_uri": _str("authorization_code: the redirect_uri of the request."),
                "code_verifier": _str(
                    "authorization_code: the PKCE verifier (43 to 128 unreserved characters).",
                    pattern="^[A-Za-z0-9._~-]{43,128}$",
                ),
                "refresh_token": _str("refresh_token: the refresh token (rotated on each use)."),
                "scope": _str("refresh_token, client_credentials: a narrower scope."),
                **CLIENT_AUTH_FIELDS,
            },
            ["grant_type"],
            "A token request (RFC 6749 §4.1.3, §6, §4.4).",
        ),
        "TokenResponse": _object(
            {
                "access_token": _str("A JWT access token (RFC 9068, typ at+jwt)."),
                "token_type": _str("Bearer.", enum=["Bearer"]),
                "expires_in": {"type": "integer", "description": "Seconds."},
                "scope": _str("The scope granted."),
                "refresh_token": _str("Present for grants that allow refreshing."),
                "id_token": _str("An ID token (OIDC Core §2) when `openid` was granted."),
            },
            ["access_token", "token_type", "expires_in"],
            "A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).",
        ),
        "UserInfoRequest": _request(
            {"access_token": _str("RFC 6750 §2.2; never together with the header.")},
            [],
            "The access token sent in the body instead of the Authorization header.",
        ),
        "UserInfo": {
            **_object(
                {
                    "sub": _str("The subject: random, stable, unrelated to personal data."),
                    "name": _str("profile"),
                    "family_name": _str("profile"),
                    "given_name": _str("profile"),
                    "middle_name": _str("profile"),
                    "updated_at": {"type": "integer", "description": "profile"},
                    "email": _str("email scope, confirmed addresses only."),
                    "email_verified": {"type": "boolean"},
                    "phone_number": _str("phone scope, E.164."),
                    "phone_number_verified": {"type": "boolean"},
                    "snils": _str("snils scope: 11 digits.", pattern="^[0-9]{11}$"),
                    "acr": _str(
                        "The account's level.", enum=["simplified", "standard", "confirmed"]
                    ),
                    "assurance_level": _str(
                        "Same as acr.", enum=["simplified", "standard", "confirmed"]
                    ),
                    "confirmation_method": _str(
                        "Only for the confirmed level.", enum=["service_center", "post", "qes"]
                    ),
                },
                ["sub"],
                "Claims about the person, as the token's scopes allow (OIDC Core §5.3.2).",
            ),
            "additionalProperties": True,
        },
        "TokenRequestWithHint": _request(
            {
                "token": _str("The token."),
                "token_type_hint": _str("A hint.", enum=["access_token", "refresh_token"]),
                **CLIENT_AUTH_FIELDS,
            },
            ["token"],
            "A token to introspect (RFC 7662 §2.1) or revoke (RFC 7009 §2.1). A client may only "
            "act on its own tokens.",
        ),
        "IntrospectionResponse": {
            **_object(
                {
                    "active": {"type": "boolean"},
                    "token_type": _str("Bearer or refresh_token."),
                    "client_id": _str(""),
                    "sub": _str(""),
                    "scope": _str(""),
                    "iss": _str(""),
                    "iat": {"type": "integer"},
                    "exp": {"type": "integer"},
                    "acr": _str(""),
                },
                ["active"],
                "RFC 7662 §2.2. Unknown, expired, revoked or foreign tokens give only "
                '`{"active": false}`.',
            ),
            "additionalProperties": True,
        },
        "LogoutRequest": _request(
            dict(LOGOUT_FIELDS), [], "A logout request (RP-Initiated Logout 1.0 §2)."
        ),
        "Health": _object(
            {"status": _str("", enum=["ok", "unavailable"])}, ["status"], "Health status."
        ),
    }


def _query_parameters(fields: dict[str, Schema], required: list[str]) -> list[dict[str, Any]]:
    parameters = []
    for name, field in fields.items():
        schema = field if name in required else _or_empty(field)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": schema["description"],
                "schema": {k: v for k, v in schema.items() if k != "description"},
            }
        )
    return parameters


def _authorization_operation(method: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["authorization"],
        "operationId": f"authorize_{method}",
        "summary": "Start a login (authorization code flow with PKCE)",
        "description": (
            "Parameters come from the query (GET) or the form body (POST, OIDC Core §3.1.2.1); "
            "each at most once. Errors about the client or the redirect URI are shown as a "
            "page and never redirected (RFC 6749 §4.1.2.1); later errors go to the redirect URI "
            "with `error`, `error_description`, `state` and `iss`."
        ),
        "responses": {
            "303": {
                "description": (
                    "To the login pages (`/interaction/{id}`), or back to the client with "
                    "`code`, `state` and `iss` (RFC 9207), or with an error."
                ),
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
            },
            "400": {
                "description": "The client or the redirect URI cannot be trusted: an HTML page.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
        },
    }
    if method == "get":
        operation["parameters"] = _query_parameters(AUTHORIZATION_FIELDS, AUTHORIZATION_REQUIRED)
    else:
        operation["requestBody"] = _form("AuthorizationRequest", "The authorization request.")
        operation["responses"]["413"] = TOO_LARGE
        operation["responses"]["200"] = REPOST_PAGE
    return operation


def _logout_operation(method: str) -> dict[str, Any]:
    html = {"text/html": {"schema": {"type": "string"}}}
    operation: dict[str, Any] = {
        "tags": ["logout"],
        "operationId": f"end_session_{method}",
        "summary": "Log out (RP-Initiated Logout 1.0)",
        "description": (
            "Without a valid id_token_hint for the current session the person is asked first. "
            "Every relying party of the session is told: back-channel logout tokens are sent "
            "(Back-Channel Logout 1.0), front-channel logout URIs are loaded in iframes."
        ),
        "responses": {
            "200": {
                "description": (
                    "A page: the confirmation question, the front-channel logout frames (which "
                    'then move on by themselves), or "you are logged out".'
                ),
                "content": html,
            },
            "303": {
                "description": "Back to the post_logout_redirect_uri, with state.",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
            },
            "400": {
                "description": "A bad hint, an unknown client or an unregistered redirect URI.",
                "content": html,
            },
        },
    }
    if method == "get":
        operation["parameters"] = _query_parameters(LOGOUT_FIELDS, [])
    else:
        operation["requestBody"] = {
            **_form("LogoutRequest", "The logout request."),
            "required": False,
        }
        operation["responses"]["413"] = TOO_LARGE
        operation["responses"]["200"] = {
            **operation["responses"]["200"],
            "description": operation["responses"]["200"]["description"]
            + " "
            + REPOST_PAGE["description"],
        }
    return operation


def _userinfo_operation(method: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["userinfo"],
        "operationId": f"userinfo_{method}",
        "summary": "Claims about the person behind an access token",
        "security": [{"bearerAccessToken": []}],
        "responses": {
            "200": {**_json("UserInfo", "The claims."), "headers": dict(NO_STORE)},
            "400": _oauth_error("Malformed request, or the token sent twice."),
            "401": _bearer_refusal(
                "No token, or an invalid, expired or revoked one. No body: the challenge "
                "carries the error (RFC 6750 §3).",
                '`Bearer realm="idp"` alone when no token was sent (RFC 6750 §3.1); with '
                '`error="invalid_token"` and `error_description` when one was.',
            ),
            "403": _bearer_refusal(
                "The token was not issued for the `openid` scope. No body.",
                '`Bearer realm="idp", error="insufficient_scope", error_description="…"`.',
            ),
        },
    }
    if method == "post":
        operation["requestBody"] = {
            **_form("UserInfoRequest", "Optionally, the token in the body."),
            "required": False,
        }
        operation["responses"]["413"] = TOO_LARGE
    return operation


def _metadata_operation(operation_id: str, summary: str) -> dict[str, Any]:
    return {
        "tags": ["discovery"],
        "operationId": operation_id,
        "summary": summary,
        "responses": {"200": _json("ProviderMetadata", "The provider's metadata.")},
    }


def _health_operation(operation_id: str, summary: str, ready: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json("Health", '`{"status": "ok"}`.')}
    if ready:
        responses["503"] = _json("Health", "The database does not answer.")
    return {
        "tags": ["health"],
        "operationId": operation_id,
        "summary": summary,
        "responses": responses,
    }


def protocol_paths() -> dict[str, dict[str, Any]]:
    """The OpenAPI ``paths`` of the protocol endpoints."""
    return {
        "/.well-known/openid-configuration": {
            "get": _metadata_operation("openid_configuration", "OpenID Provider metadata"),
        },
        "/.well-known/oauth-authorization-server": {
            "get": _metadata_operation("oauth_metadata", "The same metadata (RFC 8414)"),
        },
        "/jwks": {
            "get": {
                "tags": ["discovery"],
                "operationId": "jwks",
                "summary": "The public signing keys",
                "responses": {
                    "200": _json("JWKSet", "The JWK Set.", media_type="application/jwk-set+json")
                },
            },
        },
        "/authorize": {
            "get": _authorization_operation("get"),
            "post": _authorization_operation("post"),
        },
        "/token": {
            "post": {
                "tags": ["tokens"],
                "operationId": "token",
                "summary": "Exchange a code, refresh, or get a client token",
                "security": CLIENT_SECURITY,
                "requestBody": _form("TokenRequest", "The grant and the client's credentials."),
                "responses": {
                    "200": {**_json("TokenResponse", "Tokens."), "headers": dict(NO_STORE)},
                    "400": _oauth_error("The request or the grant is invalid."),
                    "401": CLIENT_AUTH_FAILED,
                    "413": TOO_LARGE,
                },
            },
        },
        "/userinfo": {"get": _userinfo_operation("get"), "post": _userinfo_operation("post")},
        "/introspect": {
            "post": {
                "tags": ["tokens"],
                "operationId": "introspect",
                "summary": "Is a token active, and what does it say (RFC 7662)",
                "security": CLIENT_SECURITY,
                "requestBody": _form("TokenRequestWithHint", "The token and the client."),
                "responses": {
                    "200": {
                        **_json("IntrospectionResponse", "The token's state."),
                        "headers": dict(NO_STORE),
                    },
                    "400": _oauth_error("No token, or a malformed request."),
                    "401": CLIENT_AUTH_FAILED,
                    "413": TOO_LARGE,
                },
            },
        },
        "/revoke": {
            "post": {
                "tags": ["tokens"],
                "operationId": "revoke",
                "summary": "Revoke a token (RFC 7009)",
                "description": "A refresh token revokes its whole grant, access tokens included.",
                "security": CLIENT_SECURITY,
                "requestBody": _form("TokenRequestWithHint", "The token and the client."),
                "responses": {
                    "200": {
                        "description": "Revoked, or unknown: the answer does not tell (§2.2).",
                        "headers": dict(NO_STORE),
                    },
                    "400": _oauth_error("No token, or a malformed request."),
                    "401": CLIENT_AUTH_FAILED,
                    "413": TOO_LARGE,
                },
            },
        },
        "/logout": {"get": _logout_operation("get"), "post": _logout_operation("post")},
        "/healthz": {"get": _health_operation("healthz", "The process is alive", False)},
        "/readyz": {"get": _health_operation("readyz", "The service can serve requests", True)},
    }


def protocol_components() -> dict[str, dict[str, Any]]:
    """The OpenAPI ``components`` the protocol paths refer to."""
    return {
        "schemas": _schemas(),
        "securitySchemes": {
            "clientSecretBasic": {
                "type": "http",
                "scheme": "basic",
                "description": "client_secret_basic: client_id and secret, each form-encoded "
                "first (RFC 6749 §2.3.1).",
            },
            "bearerAccessToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "An access token from the token endpoint (RFC 6750 §2.1).",
            },
        },
    }


TAGS = [
    {"name": "discovery", "description": "Metadata and keys for relying parties."},
    {"name": "authorization", "description": "The browser's entry point."},
    {"name": "tokens", "description": "Back-channel calls of relying parties."},
    {"name": "userinfo", "description": "Claims about the person."},
    {"name": "logout", "description": "Ending single sign-on sessions."},
    {"name": "health", "description": "For load balancers and orchestrators."},
]
