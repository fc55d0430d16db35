"""Agent policies: what an agent may read, whatever its user may read.

The agents of a request are its token's `azp` client and every actor of its `act` claim
(retrieval/caller.py, `agent_chain`); each one's policy narrows the request, so the effective access is
the user's ∩ every agent's, and one blocked agent anywhere in the chain refuses the request.

Policy file (CLEARANCE_AGENT_POLICY_FILE, YAML):

    version: 1
    default: deny                      # optional: agents not listed (overrides CLEARANCE_UNKNOWN_AGENT_POLICY)
    agents:
      analytics-bot:
        sources: [wiki, sales]         # optional: only these sources
        labels: ["classification != confidential", "region == eu"]
      hr-assistant: {}                 # whatever its user may read
      retired-bot: {access: none}      # nothing

A policy becomes a Narrowing of the access filter: the effective access is the user's ∩ the agent's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from access_index.acl import Narrowing
from access_index.errors import AccessDeniedError, ConfigError

_CONDITION = re.compile(r"^\s*([A-Za-z0-9_.:-]+)\s*(==|!=)\s*(\S(?:.*\S)?)\s*$")
_AGENT_KEYS = {"sources", "labels", "access"}


@dataclass(frozen=True)
class AgentPolicy:
    """One agent's limits; `blocked` agents may read nothing (403)."""

    agent: str
    narrowing: Narrowing = field(default_factory=Narrowing)
    blocked: bool = False


@dataclass(frozen=True)
class AgentPolicies:
    """Every listed agent's policy, and what happens to the others."""

    agents: Mapping[str, AgentPolicy] = field(default_factory=dict)
    unknown: Literal["allow", "deny"] = "allow"

    def narrowings_for(self, agents: Sequence[str]) -> list[Narrowing]:
        """One narrowing per agent of the chain; AccessDeniedError when any of them may read nothing.

        A request with no agent at all is held to the policy for unknown agents."""
        if not agents:
            return [self.narrowing_for(None)]
        return [self.narrowing_for(agent) for agent in agents]

    def narrowing_for(self, agent: str | None) -> Narrowing:
        """The agent's narrowing; AccessDeniedError when it may read nothing."""
        policy = self.agents.get(agent) if agent is not None else None
        if policy is None:
            if self.unknown == "deny":
                raise AccessDeniedError("this agent has no policy and unknown agents may not read")
            return Narrowing()
        if policy.blocked:
            raise AccessDeniedError("this agent may not read anything")
        return policy.narrowing


def load_agent_policies(path: Path | None, unknown: Literal["allow", "deny"]) -> AgentPolicies:
    """Parse the policy file; ConfigError names the file, the agent and the fix."""
    if path is None:
        return AgentPolicies(unknown=unknown)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(
            f"{path}: cannot read the agent policy file ({error.strerror}); fix CLEARANCE_AGENT_POLICY_FILE"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {error}") from None
    if not isinstance(document, dict) or document.get("version") != 1:
        raise ConfigError(f"{path}: an agent policy file is a mapping starting with 'version: 1'")
    default = document.get("default", unknown)
    if default not in ("allow", "deny"):
        raise ConfigError(f"{path}: 'default' is 'allow' or 'deny' (got {default!r})")
    agents = document.get("agents") or {}
    if not isinstance(agents, dict):
        raise ConfigError(f"{path}: 'agents' maps agent ids (azp or act.sub) to policies")
    policies = {str(agent): _policy(path, str(agent), spec) for agent, spec in agents.items()}
    return AgentPolicies(agents=policies, unknown=default)


def _policy(path: Path, agent: str, spec: Any) -> AgentPolicy:
    where = f"{path}: agent {agent!r}"
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: a policy is a mapping with sources, labels or access")
    unknown_keys = set(spec) - _AGENT_KEYS
    if unknown_keys:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown_keys)} (use sources, labels, access)")
    access = spec.get("access", "read")
    if access not in ("read", "none"):
        raise ConfigError(f"{where}: access is 'read' or 'none' (got {access!r})")
    if access == "none":
        return AgentPolicy(agent=agent, blocked=True)
    sources = spec.get("sources")
    if sources is not None and (not isinstance(sources, list) or not all(isinstance(s, str) for s in sources)):
        raise ConfigError(f"{where}: sources is a list of source names")
    equal: dict[str, str] = {}
    not_equal: dict[str, set[str]] = {}
    labels = spec.get("labels") or []
    if not isinstance(labels, list):
        raise ConfigError(f'{where}: labels is a list like ["classification != confidential"]')
    for condition in labels:
        match = _CONDITION.match(condition) if isinstance(condition, str) else None
        if match is None:
            raise ConfigError(
                f"{where}: cannot read label condition {condition!r}; write 'key == value' or 'key != value'"
            )
        key, operator, value = match.groups()
        if operator == "==":
            if equal.get(key, value) != value:
                raise ConfigError(f"{where}: {key} cannot equal both {equal[key]!r} and {value!r}")
            equal[key] = value
        else:
            not_equal.setdefault(key, set()).add(value)
    narrowing = Narrowing(
        sources=frozenset(sources) if sources is not None else None,
        labels_equal=equal,
        labels_not_equal={key: frozenset(values) for key, values in not_equal.items()},
    )
    return AgentPolicy(agent=agent, narrowing=narrowing)
