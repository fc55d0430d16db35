"""The ACL manifest (`--acl FILE`): which principals may read which paths of a source.

Validated up front; every error names the file, the line and the fix, and nothing is ingested from a
manifest that does not validate. The first rule whose glob matches a path wins; a path no rule
matches gets no ACL and is not indexed (fail closed).

Globs are matched against the POSIX path relative to the source's recorded root, in the one grammar of
access_index/globs.py (`*` and `?` inside one segment, `**` across segments, `[...]` classes); a glob outside
it is refused at load with the rule's number and line, never guessed at.

A manifest may instead delegate to the IAM: `source: keycloak` and no `rules`. Its documents' ACLs then come
from the compiled Keycloak Authorization Services model (access_index/authz_model.py), through the provider
that access_index/acl_provider.py picks for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from access_index.acl_explanation import AclExplanation, Candidate, RefValue
from access_index.errors import ConfigError, ManifestError, PrincipalError
from access_index.globs import Glob, parse_glob, split_path
from access_index.links import check_uri_base
from access_index.principals import Principal, old_spelling, parse_principal

SUPPORTED_VERSION = 1
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_RULE_KEYS = {"paths", "allow", "deny", "labels"}
_TOP_KEYS = {"version", "tenant", "uri_base", "rules", "source"}
DELEGATES = ("keycloak",)  # the values of `source:`: where a delegating manifest's ACLs come from


@dataclass(frozen=True)
class Rule:
    """One manifest rule: its globs, principals and labels, and where it was written."""

    paths: tuple[str, ...]
    allow: frozenset[Principal]
    deny: frozenset[Principal] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)
    line: int = 0
    number: int = 0  # 1-based position in the manifest: "rule 2" in messages and explanations
    _globs: tuple[Glob, ...] = field(default=(), repr=False, compare=False)

    def matches(self, relpath: str) -> bool:
        return self.matching_glob(split_path(relpath)) is not None

    def matching_glob(self, parts: tuple[str, ...]) -> Glob | None:
        """The first of this rule's globs that matches a path split by `split_path`, or None."""
        for glob in self._globs:
            if glob.matches_parts(parts):
                return glob
        return None

    @property
    def allow_tokens(self) -> tuple[str, ...]:
        """The allow principals as stored on chunks: canonical strings, sorted."""
        return tuple(sorted(str(p) for p in self.allow))

    @property
    def deny_tokens(self) -> tuple[str, ...]:
        return tuple(sorted(str(p) for p in self.deny))

    @property
    def label(self) -> str:
        return f"rule {self.number} (line {self.line})"


@dataclass(frozen=True)
class Manifest:
    """A validated manifest; `rule_for` answers which rule governs a path."""

    path: Path
    tenant: str | None
    rules: tuple[Rule, ...]
    # Principals written in an old spelling, read as what they meant: "file:line: 'old' ... 'new'".
    warnings: tuple[str, ...] = ()
    # `source: keycloak`: no rules here, the ACLs come from the IAM (access_index/acl_provider.py).
    delegate: str | None = None
    # Where the source's root is published (access_index/links.py); --uri-base and CLEARANCE_URI_BASE override it.
    uri_base: str | None = None

    def rule_for(self, relpath: str) -> Rule | None:
        """The first rule whose glob matches `relpath` (POSIX, relative to the source's root), or None."""
        parts = split_path(relpath)
        for rule in self.rules:
            if rule.matching_glob(parts) is not None:
                return rule
        return None

    def explain(self, relpath: str) -> AclExplanation:
        """Which rule governs `relpath` and why: the first match, and each earlier rule that did not match."""
        parts = split_path(relpath)
        passed_over: list[Candidate] = []
        for rule in self.rules:
            ref: dict[str, RefValue] = {"rule": rule.number, "line": rule.line, "globs": rule.paths}
            glob = rule.matching_glob(parts)
            if glob is None:
                reason = "none of its globs matches: " + ", ".join(repr(text) for text in rule.paths)
                passed_over.append(Candidate(rule.label, ref, reason))
                continue
            ref["glob"] = glob.text
            earlier = "no earlier rule matches" if passed_over else "it is the first rule"
            decided = Candidate(rule.label, ref, f"{glob.text!r} matches and {earlier} (the first match wins)")
            return AclExplanation(
                "manifest",
                relpath,
                decided,
                allow=rule.allow_tokens,
                deny=rule.deny_tokens,
                labels=dict(sorted(rule.labels.items())),
                passed_over=tuple(passed_over),
            )
        return AclExplanation("manifest", relpath, None, passed_over=tuple(passed_over))


def label_problem(key: str, value: str) -> str | None:
    """Why a label cannot be stored (manifest labels and Keycloak resource attributes alike), or None."""
    if not _LABEL_KEY.match(key):
        return f"label key {key!r} must be letters, digits, '_', '.' or '-'"
    if not value or any(ch in value for ch in "\n\r\x00"):
        return f"label {key!r} needs a non-empty single-line value"
    return None


def is_valid_tenant(tenant: str) -> bool:
    return bool(_TENANT.match(tenant))


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file; ManifestError (file, line, fix) when it is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such ACL manifest file: check the --acl path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot read the ACL manifest: {error}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(error, "problem", None) or str(error)
        raise ManifestError(f"{path}:{line}: not valid YAML ({problem}): fix the syntax on that line") from None
    return _Reader(path).manifest(root)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []

    def fail(self, node: yaml.Node | None, message: str) -> ManifestError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ManifestError(f"{self.path}:{line}: {message}")

    def manifest(self, root: yaml.Node | None) -> Manifest:
        if not isinstance(root, yaml.MappingNode):
            raise self.fail(root, "the manifest is a mapping with 'version: 1' and 'rules:' (see the contract)")
        top = self.mapping(root, _TOP_KEYS, "top level")
        version = top.get("version")
        if version is None or self.scalar(version) != str(SUPPORTED_VERSION):
            raise self.fail(version or root, f"'version' must be {SUPPORTED_VERSION}: add 'version: 1'")
        tenant: str | None = None
        if "tenant" in top:
            tenant = self.scalar(top["tenant"])
            if not _TENANT.match(tenant):
                raise self.fail(top["tenant"], f"tenant {tenant!r} must be letters, digits, '.', '_' or '-'")
        uri_base: str | None = None
        if "uri_base" in top:
            try:
                uri_base = check_uri_base(self.scalar(top["uri_base"]), "'uri_base'")
            except ConfigError as error:
                raise self.fail(top["uri_base"], str(error)) from None
        if "source" in top:
            return self.delegating(top, tenant, uri_base)
        rules_node = top.get("rules")
        if not isinstance(rules_node, yaml.SequenceNode) or not rules_node.value:
            raise self.fail(rules_node or root, "'rules' must be a non-empty list of rules (paths, allow, ...)")
        rules = tuple(self.rule(node, number) for number, node in enumerate(rules_node.value, start=1))
        return Manifest(self.path, tenant, rules, tuple(self.warnings), uri_base=uri_base)

    def delegating(self, top: dict[str, yaml.Node], tenant: str | None, uri_base: str | None) -> Manifest:
        source = self.scalar(top["source"])
        if source not in DELEGATES:
            raise self.fail(top["source"], f"source {source!r} is unknown: write 'source: keycloak' or use 'rules:'")
        if "rules" in top:
            raise self.fail(
                top["rules"], f"'source: {source}' takes the ACLs from the IAM: remove 'rules' (or remove 'source')"
            )
        return Manifest(self.path, tenant, (), tuple(self.warnings), uri_base=uri_base, delegate=source)

    def rule(self, node: yaml.Node, number: int) -> Rule:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "each rule is a mapping with 'paths' and 'allow' (and optional 'deny', 'labels')")
        fields = self.mapping(node, _RULE_KEYS, "a rule")
        if "paths" not in fields:
            raise self.fail(node, "this rule has no 'paths': add e.g. paths: [\"hr/**\"]")
        if "allow" not in fields:
            raise self.fail(
                node, "this rule has no 'allow': list who may read these paths, e.g. allow: [\"group:/hr\"]"
            )
        globs = tuple(self.glob(item, number, node) for item in self.sequence(fields["paths"], "paths"))
        if not globs:
            raise self.fail(fields["paths"], "'paths' is empty: list at least one glob")
        allow = self.principals(fields["allow"], "allow", node)
        if not allow:
            raise self.fail(fields["allow"], "'allow' is empty, so nobody could read these files: list a principal")
        deny = self.principals(fields["deny"], "deny", node) if "deny" in fields else frozenset()
        labels = self.labels(fields["labels"]) if "labels" in fields else {}
        return Rule(
            paths=tuple(glob.text for glob in globs),
            allow=allow,
            deny=deny,
            labels=labels,
            line=node.start_mark.line + 1,
            number=number,
            _globs=globs,
        )

    def mapping(self, node: yaml.MappingNode, allowed: set[str], where: str) -> dict[str, yaml.Node]:
        result: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if key not in allowed:
                raise self.fail(key_node, f"unknown key {key!r} in {where}: use one of {', '.join(sorted(allowed))}")
            if key in result:
                raise self.fail(key_node, f"duplicate key {key!r} in {where}: keep one")
            result[key] = value_node
        return result

    def scalar(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "expected a single value here, not a list or mapping")
        return str(node.value)

    def sequence(self, node: yaml.Node, name: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"'{name}' must be a list, e.g. {name}: [\"...\"]")
        return list(node.value)

    def glob(self, node: yaml.Node, number: int, rule: yaml.Node) -> Glob:
        text = self.scalar(node)
        try:
            return parse_glob(text)
        except ValueError as error:
            where = f"rule {number} (line {rule.start_mark.line + 1})"
            raise self.fail(node, f"{where}: glob {text!r} is refused: {error}") from None

    def principals(self, node: yaml.Node, name: str, rule: yaml.Node) -> frozenset[Principal]:
        result = set()
        for item in self.sequence(node, name):
            written = self.scalar(item)
            upgraded = old_spelling(written)
            if upgraded is not None:
                # Still read, as it always meant; the warning names the rule and today's spelling.
                self.warnings.append(
                    f"{self.path}:{item.start_mark.line + 1}: the rule at line {rule.start_mark.line + 1} writes "
                    f"{written!r}, the old spelling of {upgraded!r}: write {upgraded!r}"
                )
                written = upgraded
            try:
                result.add(parse_principal(written))
            except PrincipalError as error:
                raise self.fail(
                    item,
                    f"{error}: write user:<username>, email:<address>, group:/<path>, role:<name>, "
                    "client-role:<client_id>/<name>, client:<client_id> or authenticated",
                ) from None
        return frozenset(result)

    def labels(self, node: yaml.Node) -> dict[str, str]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "'labels' must be a mapping, e.g. labels: {classification: confidential}")
        labels: dict[str, str] = {}
        for key_node, value_node in node.value:
            key, value = self.scalar(key_node), self.scalar(value_node)
            problem = label_problem(key, value)
            if problem is not None:
                raise self.fail(key_node if not _LABEL_KEY.match(key) else value_node, problem)
            labels[key] = value
        return labels
