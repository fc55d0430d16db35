"""Test helpers shared by the suites (fixtures built by code, servers on 127.0.0.1).

fake_keycloak/   a Keycloak-compatible Admin REST and token server (acl_sync tests, bench)
oidc_issuer      a real OIDC issuer: discovery, JWKS, signed tokens
json_server      the JSON request handler both servers use
readiness        free_port, wait_until_ready (a server's /readyz), wait_for (any condition)
auth             bearer(token) headers
examples         load_builders(): examples/build_examples.py, loaded by path
hashing_embedder a deterministic stand-in for the embedding model
"""
