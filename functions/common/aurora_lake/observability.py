"""Powertools Logger, Tracer and Metrics, configured once for every function."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "aurora-lake"
# One namespace for every function's metrics (POWERTOOLS_METRICS_NAMESPACE says the same).
NAMESPACE = "AuroraLake"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# Most steps publish no metric; Powertools would warn on every invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
