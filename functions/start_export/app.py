"""StartExport: start the Parquet export of the snapshot to S3 (or adopt it)."""

from __future__ import annotations

from typing import Any

from aurora_lake import exports, key_policy, settings
from aurora_lake.handler import step_handler


@step_handler("StartExport", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if settings.optional("CHECK_KEY_POLICY", "false") == "true":  # a key the stack did not create
        key_policy.require_grants(settings.required("EXPORT_KMS_KEY_ARN"))
    return exports.start_or_adopt(
        event["job"],
        event["snapshot"],
        bucket=settings.required("EXPORT_BUCKET"),
        kms_key_arn=settings.required("EXPORT_KMS_KEY_ARN"),
        role_arn=settings.required("EXPORT_ROLE_ARN"),
    )
