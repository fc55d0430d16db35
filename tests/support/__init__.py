"""Test helpers shared by the suites (fixtures built by code, servers on 127.0.0.1)."""
