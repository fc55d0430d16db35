"""Prometheus metrics of one app (its own registry, so several apps in one process do not collide)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.08, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metrics:
    """The service's counters and histograms."""

    registry: CollectorRegistry
    request_seconds: Histogram
    results_per_search: Histogram
    auth_failures: Counter
    rate_limited: Counter
    audit_write_errors: Counter
    embed_batch_size: Histogram
    sparse_backfill_chunks: Counter

    def render(self) -> bytes:
        return generate_latest(self.registry)


def create_metrics() -> Metrics:
    """A fresh registry with every metric of the service."""
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        request_seconds=Histogram(
            "clearance_request_seconds",
            "Request latency by route and status",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        results_per_search=Histogram(
            "clearance_results_per_search",
            "Results returned per search",
            buckets=(0, 1, 2, 4, 8, 16, 32, 50),
            registry=registry,
        ),
        auth_failures=Counter("clearance_auth_failures", "Refused tokens by reason", ["reason"], registry=registry),
        rate_limited=Counter(
            "clearance_rate_limited", "Requests refused by a rate limit", ["scope"], registry=registry
        ),
        audit_write_errors=Counter(
            "clearance_audit_write_errors", "Audit records that could not be written", registry=registry
        ),
        embed_batch_size=Histogram(
            "clearance_embed_batch_size",
            "Queries embedded together by the micro-batcher",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=registry,
        ),
        sparse_backfill_chunks=Counter(
            "clearance_sparse_backfill_chunks",
            "Writes to chunks of an index built before BM25 vectors or IDF scopes: a vector from the stored text, "
            "then a scope from the stored ACL (one each per chunk)",
            registry=registry,
        ),
    )
