"""StartExport: start the Parquet export of the snapshot to S3 (or adopt it)."""

from __future__ import annotations

from typing import Any

from aurora_lake import exports, settings
from aurora_lake.handler import step_handler


@step_handler("StartExport", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return exports.start_or_adopt(
        event["job"],
        event["snapshot"],
        bucket=settings.required("EXPORT_BUCKET"),
        kms_key_arn=settings.required("EXPORT_KMS_KEY_ARN"),
        role_arn=settings.required("EXPORT_ROLE_ARN"),
    )
