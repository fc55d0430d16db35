"""The error tree is total: every Clearance error anywhere in the code is drawn in access_index/errors.py,
has its own code, and maps to an HTTP problem and to a CLI exit code."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import access_index
import access_index.errors as errors_module
import acl_sync
import ingest
import retrieval
from access_index.cli import EXIT_FAILED, EXIT_USAGE, exit_code
from access_index.errors import (
    ClearanceError,
    ConfigError,
    InvalidTokenError,
    PrincipalError,
    PullError,
    RateLimitedError,
)
from retrieval.errors import PROBLEM_JSON, problem_response

STATUSES = {401, 403, 404, 413, 429, 500, 503}


def _all_error_classes() -> list[type[ClearanceError]]:
    for package in (access_index, ingest, retrieval, acl_sync):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    found: list[type[ClearanceError]] = []
    pending: list[type[ClearanceError]] = [ClearanceError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__name__)


def _instance(cls: type[ClearanceError]) -> ClearanceError:
    if issubclass(cls, PrincipalError):
        return cls("user:", "empty name")
    if issubclass(cls, RateLimitedError):
        return cls("slow down", 7, "subject")
    if issubclass(cls, InvalidTokenError):
        return cls("expired", "token expired")
    if issubclass(cls, PullError):
        return cls("pull failed", retryable=False)
    return cls("something went wrong at /srv/secret/path")


CLASSES = _all_error_classes()


def test_the_tree_is_found_whole() -> None:
    assert len(CLASSES) >= 23


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_lives_in_the_tree_with_a_code_a_status_and_a_title(cls: type[ClearanceError]) -> None:
    assert cls.__module__ == "access_index.errors", "one error tree, one home"
    assert cls.__name__ in (errors_module.__doc__ or ""), "drawn in the tree in access_index/errors.py"
    assert cls.code in (errors_module.__doc__ or "")
    assert cls.status in STATUSES
    assert cls.title


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_maps_to_a_problem(cls: type[ClearanceError]) -> None:
    error = _instance(cls)
    response = problem_response(error, "req-1")
    body = json.loads(response.body)
    assert response.status_code == cls.status
    assert response.media_type == PROBLEM_JSON
    assert body["code"] == cls.code and body["status"] == cls.status and body["request_id"] == "req-1"
    if not cls.public:
        assert "/srv/secret" not in body["detail"], "internal details stay in the server log"
    if cls.status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if cls.status in (429, 503):
        assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_maps_to_an_exit_code(cls: type[ClearanceError]) -> None:
    expected = EXIT_USAGE if issubclass(cls, ConfigError) else EXIT_FAILED
    assert exit_code(_instance(cls)) == expected
