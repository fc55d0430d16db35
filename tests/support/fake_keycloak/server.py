"""The fake Keycloak's HTTP side: the server on 127.0.0.1, the request handler and the dispatch of each
request to its route (`openid` under /realms/{realm}/, `admin` under /admin/realms/{realm}/)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from joserfc.jwk import RSAKey

from tests.support.fake_keycloak import admin, faults, openid
from tests.support.fake_keycloak.faults import Fault
from tests.support.fake_keycloak.realm import FakeRealm
from tests.support.fake_keycloak.routing import NOT_FOUND, Request, Response, Routes
from tests.support.fake_keycloak.tokens import Tokens
from tests.support.json_server import JsonHandler

REALM_ROUTES: Routes = {**openid.ROUTES}
ADMIN_ROUTES: Routes = {**admin.ROUTES}
ADMIN_METHODS = {method for method, _ in ADMIN_ROUTES}  # the Admin API answers (and checks tokens) for these


class FakeKeycloak:
    """The server: start() binds 127.0.0.1 on a free port; `url` is the base URL python-keycloak takes."""

    def __init__(self, realm: FakeRealm | None = None, token_ttl: int = 300) -> None:
        self.realm = realm or FakeRealm()
        self.tokens = Tokens(self.realm, token_ttl, lambda: self.issuer)
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.sync_client = self.realm.add_client("clearance-sync", service_account=True)
        self.realm.map_user_role(self.sync_client.service_account_user or "", self._realm_management_role("view-users"))

    def _realm_management_role(self, name: str) -> str:
        try:
            management = self.realm.client_by_client_id("realm-management")
        except KeyError:
            management = self.realm.add_client("realm-management")
        try:
            return self.realm.role_id(name, management.client_id)
        except KeyError:
            return self.realm.add_client_role(management.client_id, name)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def issuer(self) -> str:
        return f"{self.url}realms/{self.realm.name}"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def key(self) -> RSAKey:
        return self.tokens.key

    @property
    def token_ttl(self) -> int:
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: int) -> None:
        self.tokens.ttl = seconds

    def start(self) -> FakeKeycloak:
        handler = _handler_for(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-keycloak", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextmanager
    def fault(self, fault: Fault) -> Iterator[Fault]:
        """Inject a fault for the duration of a `with` block."""
        self.faults.append(fault)
        try:
            yield fault
        finally:
            self.faults.remove(fault)

    # --- tokens -----------------------------------------------------------------------------------------

    def user_token(self, username: str, client_id: str = "clearance", ttl: int | None = None) -> str:
        """An access token as Keycloak issues it to `client_id` for this user (groups claim included)."""
        return self.tokens.user_token(username, client_id, ttl)

    def token_response(self, form: dict[str, str]) -> Response:
        return self.tokens.token_response(form)

    def admin_authorized(self, header: str | None) -> bool:
        return self.tokens.admin_authorized(header)

    # --- routing ----------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str] | None = None) -> Response:
        """The answer to one request (after faults and the admin token check): find its route and call it."""
        request = Request(self, method, query, form or {})
        admin_prefix = f"/admin/realms/{self.realm.name}/"
        if method in ADMIN_METHODS and path.startswith(admin_prefix):
            # As Keycloak's JAX-RS resources read a path: split on '/', drop each segment's matrix parameters
            # (from a raw ';'), then percent-decode it (so an encoded '/' stays inside its segment). A raw '#'
            # or '?' never gets here: the client ended the path there.
            parts = [unquote(p.split(";", 1)[0]) for p in path[len(admin_prefix) :].split("/") if p]
            route = ADMIN_ROUTES.get((method, parts[0] if parts else ""))
            with self.realm.lock:
                answer = route(request, parts[1:]) if route is not None else None
            return NOT_FOUND if answer is None else answer
        realm_prefix = f"/realms/{self.realm.name}/"
        if path.startswith(realm_prefix):
            head, *rest = path[len(realm_prefix) :].split("/")
            route = REALM_ROUTES.get((method, head))
            answer = route(request, rest) if route is not None else None
            if answer is not None:
                return answer
        return (404, {"error": "Realm not found."}) if method == "GET" else (404, {"error": "not found"})

    def handle_get(self, path: str, query: dict[str, str]) -> Response:
        return self.handle("GET", path, query)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected; anything else is still reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: FakeKeycloak) -> type[JsonHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as python-keycloak's session expects
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            form: dict[str, str] = {}
            if method != "GET":
                length = int(self.headers.get("Content-Length") or 0)
                form = {key: values[-1] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
            server.requests.append(self.path)
            fault = faults.matching_fault(server.faults, url.path, query)
            injected = faults.before(fault, method)
            if injected is not None:
                self.send_json(*injected)
                return
            admin_call = method in ADMIN_METHODS and url.path.startswith("/admin/")
            if admin_call and not server.admin_authorized(self.headers.get("Authorization")):
                self.send_json(401, {"error": "HTTP 401 Unauthorized"})
                return
            status, body = server.handle(method, url.path, query, form)
            self.send_json(status, faults.after(fault, body))

    return Handler
