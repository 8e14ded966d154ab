"""Powertools Logger and Metrics, configured once for every function; Tracer only when tracing is on.

Creating a Powertools Tracer imports the X-Ray SDK, which costs more than boto3
itself on a cold start. Most invocations here are cold (polls are minutes to
hours apart), so the Tracer is created only where traces can be sent.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

SERVICE = "aurora-lake"
# One namespace for every function's metrics (POWERTOOLS_METRICS_NAMESPACE says the same).
NAMESPACE = "AuroraLake"

# Every metric also carries the stack's name, so two deployments in one account and Region
# (and their alarms and dashboards) never count each other's runs.
STACK_ENV = "AURORA_LAKE_STACK"
STACK_DIMENSION = "stack"

ACCOUNT_DIMENSION = "account"
CLUSTER_DIMENSION = "cluster"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def stack_dimensions() -> dict[str, str]:
    """The stack's dimension, read from the environment at each invocation."""
    stack = os.environ.get(STACK_ENV)
    return {STACK_DIMENSION: stack} if stack else {}


def use_stack_dimension() -> None:
    """Every metric of this invocation carries the stack (called by the step handler wrapper)."""
    dimensions = stack_dimensions()
    if dimensions:
        metrics.set_default_dimensions(**dimensions)


def count_for_cluster(name: str, cluster: str, account: str | None = None) -> None:
    """One count with the cluster as a further dimension (a freshness alarm watches one cluster).

    A source account's cluster adds the account as a dimension too: a metric is its set of
    dimensions, so its count never reaches the alarm of the lake's own cluster of the same name.
    """
    dimensions = {"service": SERVICE, **stack_dimensions()}
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE, default_dimensions=dimensions) as metric:
        metric.add_dimension(name=CLUSTER_DIMENSION, value=cluster)
        if account is not None:
            metric.add_dimension(name=ACCOUNT_DIMENSION, value=account)

# Most steps publish no metric; Powertools would warn on every invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    """Powertools' own rule: off when disabled, under SAM local, or outside Lambda."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in ("true", "1"):
        return False
    if os.environ.get("AWS_SAM_LOCAL", "").strip().lower() == "true":
        return False
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def traced(handler: Handler) -> Handler:
    """The handler wrapped by a Powertools Tracer when tracing is on, else as it is."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools.tracing import Tracer

    return Tracer(service=SERVICE).capture_lambda_handler(handler, capture_response=False)  # type: ignore[return-value]


__all__ = ["MetricUnit", "count_for_cluster", "logger", "metrics", "stack_dimensions", "traced", "tracing_enabled", "use_stack_dimension"]
