"""SNS Publish as recorded from AWS, where moto 5.2.5 accepts more.

Recorded (``sns/test_sns.snapshot.json``, ``test_publish_with_empty_subject``, 2023-08-24): an
empty Subject is refused with ``InvalidParameter`` "Invalid parameter: Subject" (HTTP 400);
moto publishes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock


@contextlib.contextmanager
def installed() -> Iterator[None]:
    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import SNSBackend

    original = SNSBackend.publish

    def publish(backend: Any, message: str, arn: str | None, phone_number: str | None = None, subject: str | None = None, **kwargs: Any) -> str:
        if subject == "":
            raise InvalidParameterValue("Invalid parameter: Subject")
        return original(backend, message, arn, phone_number, subject, **kwargs)

    with mock.patch.object(SNSBackend, "publish", publish):
        yield
