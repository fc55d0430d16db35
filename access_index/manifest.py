"""The ACL manifest (`--acl FILE`): which principals may read which paths of a source.

Validated up front; every error names the file, the line and the fix, and nothing is ingested from a
manifest that does not validate. The first rule whose glob matches a path wins; a path no rule
matches gets no ACL and is not indexed (fail closed).

Globs are matched against the POSIX path relative to the ingest root: `*` and `?` stay inside one
path segment, `**` spans segments (`hr/**` is everything under hr/, `**/*.md` every Markdown file at
any depth, including the root), `[abc]` is a character class.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from access_index.errors import ManifestError, PrincipalError
from access_index.principals import Principal, old_spelling, parse_principal

SUPPORTED_VERSION = 1
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_RULE_KEYS = {"paths", "allow", "deny", "labels"}
_TOP_KEYS = {"version", "tenant", "rules"}


@dataclass(frozen=True)
class Rule:
    """One manifest rule: its globs, principals and labels, and where it was written."""

    paths: tuple[str, ...]
    allow: frozenset[Principal]
    deny: frozenset[Principal] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)
    line: int = 0
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def matches(self, relpath: str) -> bool:
        return any(pattern.fullmatch(relpath) for pattern in self._patterns)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest; `rule_for` answers which rule governs a path."""

    path: Path
    tenant: str | None
    rules: tuple[Rule, ...]
    # Principals written in an old spelling, read as what they meant: "file:line: 'old' ... 'new'".
    warnings: tuple[str, ...] = ()

    def rule_for(self, relpath: str) -> Rule | None:
        """The first rule whose glob matches `relpath` (POSIX, relative to the ingest root), or None."""
        for rule in self.rules:
            if rule.matches(relpath):
                return rule
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
        rules_node = top.get("rules")
        if not isinstance(rules_node, yaml.SequenceNode) or not rules_node.value:
            raise self.fail(rules_node or root, "'rules' must be a non-empty list of rules (paths, allow, ...)")
        rules = tuple(self.rule(node) for node in rules_node.value)
        return Manifest(self.path, tenant, rules, tuple(self.warnings))

    def rule(self, node: yaml.Node) -> Rule:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "each rule is a mapping with 'paths' and 'allow' (and optional 'deny', 'labels')")
        fields = self.mapping(node, _RULE_KEYS, "a rule")
        if "paths" not in fields:
            raise self.fail(node, "this rule has no 'paths': add e.g. paths: [\"hr/**\"]")
        if "allow" not in fields:
            raise self.fail(
                node, "this rule has no 'allow': list who may read these paths, e.g. allow: [\"group:/hr\"]"
            )
        globs = tuple(self.glob(item) for item in self.sequence(fields["paths"], "paths"))
        if not globs:
            raise self.fail(fields["paths"], "'paths' is empty: list at least one glob")
        allow = self.principals(fields["allow"], "allow", node)
        if not allow:
            raise self.fail(fields["allow"], "'allow' is empty, so nobody could read these files: list a principal")
        deny = self.principals(fields["deny"], "deny", node) if "deny" in fields else frozenset()
        labels = self.labels(fields["labels"]) if "labels" in fields else {}
        return Rule(
            paths=globs,
            allow=allow,
            deny=deny,
            labels=labels,
            line=node.start_mark.line + 1,
            _patterns=tuple(compile_glob(glob) for glob in globs),
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

    def glob(self, node: yaml.Node) -> str:
        glob = self.scalar(node)
        if not glob or glob.startswith("/") or "\\" in glob or any(part == ".." for part in glob.split("/")):
            raise self.fail(node, f"glob {glob!r} must be a relative POSIX path pattern such as 'hr/**'")
        return glob

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
            if not _LABEL_KEY.match(key):
                raise self.fail(key_node, f"label key {key!r} must be letters, digits, '_', '.' or '-'")
            if not value or any(ch in value for ch in "\n\r\x00"):
                raise self.fail(value_node, f"label {key!r} needs a non-empty single-line value")
            labels[key] = value
        return labels


def compile_glob(glob: str) -> re.Pattern[str]:
    """Translate a path glob to a regex: `**` spans directories, `*`/`?` stay within one segment."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[":
            end = glob.find("]", i + 2)
            if end == -1:
                out.append(re.escape("["))
                i += 1
            else:
                body = glob[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                out.append(f"[{'^' if negate else ''}{re.escape(body)}]")
                i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))
