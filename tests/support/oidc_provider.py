"""A real OpenID Connect provider on loopback for the single sign-on tests, built with authlib's
OAuth 2.0 / OpenID Connect server (authorization code grant, OpenID Code extension with nonce, PKCE
required) on Flask, served by werkzeug in a thread of the test process.

It publishes a discovery document and a JWKS, shows a login form at its authorization endpoint, signs
ID tokens with its own RSA key (RS256) and answers userinfo. Its endpoints sit at unusual paths, so a
client that finds them has read the discovery document.

``provider.tamper`` makes the token endpoint hand out a bad ID token on purpose (as an attacker in the
middle, or a misconfigured provider, would): ``"signature"`` (signed with another key), ``"nonce"``,
``"audience"`` or ``"issuer"``; ``None`` for honest tokens.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, Response, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

LOGIN_FORM = """<!doctype html><html lang="en"><head><title>Test identity provider</title></head><body>
<h1>Test identity provider</h1><p>{error}</p>
<form method="post"><label for="u">Username</label><input id="u" name="username">
<label for="p">Password</label><input id="p" type="password" name="password">
<button type="submit">Sign in to the identity provider</button></form></body></html>"""


@dataclass
class IdpUser:
    username: str
    password: str
    email: str
    given_name: str = ""
    family_name: str = ""
    email_verified: bool = True
    sub: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    id_token_signed_response_alg: str = "RS256"

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in scope.split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in {"client_secret_post", "client_secret_basic"}

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: IdpUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class OidcTestProvider:
    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-signing-key", "alg": "RS256", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "test-signing-key", "alg": "RS256"})
        self.users: dict[str, IdpUser] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, IdpUser] = {}
        self.tamper: str | None = None
        #: What the provider saw, for the tests' assertions: authorization and token requests.
        self.authorization_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.discovery_reads = 0
        self.app = self._build_app()
        self.server = make_server(host, 0, self.app, threaded=True)
        self.issuer = f"http://{host}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="oidc-test-provider", daemon=True)

    # --- life cycle --------------------------------------------------------------------------------

    def start(self) -> OidcTestProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=10)

    def add_user(self, **kwargs) -> IdpUser:
        user = IdpUser(**kwargs)
        self.users[user.username] = user
        return user

    def add_client(self, *, client_id: str, client_secret: str, redirect_uri: str) -> Client:
        client = Client(client_id, client_secret, [redirect_uri])
        self.clients[client_id] = client
        return client

    # --- the app -----------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        provider = self
        app = Flask("oidc_test_provider")
        app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = True

        class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]

            def save_authorization_code(self, code, request):
                data = request.payload.data
                provider.codes[code] = Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.payload.scope,
                    user=request.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    auth_time=int(time.time()),
                )

            def query_authorization_code(self, code, client):
                item = provider.codes.get(code)
                if item is not None and item.client_id == client.client_id:
                    return item
                return None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class ProviderOpenIDCode(OpenIDCode):
            def exists_nonce(self, nonce, request):
                return any(code.nonce == nonce for code in provider.codes.values())

            def resolve_client_private_key(self, client):
                return KeySet([provider.key])

            def get_client_claims(self, client):
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": "test-signing-key"}

            def generate_user_info(self, user, scope):
                return provider._user_info(user, scope)

        def save_token(token, request):
            provider.tokens[token["access_token"]] = request.user

        server = AuthorizationServer(app, query_client=self.clients.get, save_token=save_token)
        server.register_grant(
            AuthorizationCodeGrant, [ProviderOpenIDCode(require_nonce=True), CodeChallenge(required=True)]
        )

        @app.get("/.well-known/openid-configuration")
        def discovery():
            provider.discovery_reads += 1
            return jsonify(
                {
                    "issuer": provider.issuer,
                    "authorization_endpoint": f"{provider.issuer}/idp/auth-x",
                    "token_endpoint": f"{provider.issuer}/idp/token-x",
                    "userinfo_endpoint": f"{provider.issuer}/idp/me-x",
                    "jwks_uri": f"{provider.issuer}/idp/keys-x",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                    "code_challenge_methods_supported": ["S256"],
                    "scopes_supported": ["openid", "email", "profile"],
                }
            )

        @app.get("/idp/keys-x")
        def jwks():
            return jsonify({"keys": [provider.key.as_dict(private=False)]})

        @app.route("/idp/auth-x", methods=["GET", "POST"])
        def authorize():
            if request.method == "GET":
                provider.authorization_requests.append(dict(request.args))
                grant = server.get_consent_grant(end_user=None)  # validates client, redirect URI, PKCE, nonce
                del grant
                return LOGIN_FORM.format(error="")
            user = provider.users.get(request.form.get("username", ""))
            if user is None or not secrets.compare_digest(user.password, request.form.get("password", "")):
                return Response(LOGIN_FORM.format(error="Wrong username or password."), status=401)
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant_user=user, grant=grant)

        @app.post("/idp/token-x")
        def token():
            provider.token_requests.append(
                {**request.form, "authorization_header": request.headers.get("Authorization", "")}
            )
            response = server.create_token_response()
            if provider.tamper and response.status_code == 200:
                body = json.loads(response.get_data())
                body["id_token"] = provider._tampered(body["id_token"])
                response.set_data(json.dumps(body))
            return response

        @app.get("/idp/me-x")
        def userinfo():
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            user = provider.tokens.get(bearer)
            if user is None:
                return Response(status=401)
            return jsonify(dict(provider._user_info(user, "openid email profile")))

        return app

    def _user_info(self, user: IdpUser, scope: str) -> UserInfo:
        info = UserInfo(sub=user.sub)
        if "email" in scope:
            info["email"] = user.email
            info["email_verified"] = user.email_verified
        if "profile" in scope:
            info["given_name"] = user.given_name
            info["family_name"] = user.family_name
        return info

    def _tampered(self, id_token: str) -> str:
        claims = jwt.decode(id_token, self.key).claims
        header = {"alg": "RS256", "kid": "test-signing-key"}
        key = self.key
        if self.tamper == "signature":
            key = self.other_key  # same kid, another key: the signature does not verify
        elif self.tamper == "nonce":
            claims["nonce"] = "not-the-nonce-the-client-sent"
        elif self.tamper == "audience":
            claims["aud"] = ["another-client"]
        elif self.tamper == "issuer":
            claims["iss"] = "http://127.0.0.1:1/not-the-issuer"
        else:
            raise ValueError(f"unknown tamper mode {self.tamper!r}")
        return jwt.encode(header, claims, key)
