"""The functions' AWS clients: boto3's, one per service and process, with the project's retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.client import BaseClient

from aurora_lake import clients


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    clients.reset()
    yield
    clients.reset()


def test_a_client_is_a_boto3_client_with_the_full_service_model() -> None:
    glue = clients.client("glue")
    assert isinstance(glue, BaseClient)
    assert glue.meta.service_model.service_name == "glue"
    assert glue.meta.region_name == "eu-west-1"
    # Every operation of the SDK's model, not a chosen few.
    assert set(glue.meta.service_model.operation_names) == set(boto3.session.Session().client("glue").meta.service_model.operation_names)


def test_each_service_gets_one_client_per_process_until_reset() -> None:
    rds = clients.client("rds")
    assert clients.client("rds") is rds
    assert clients.client("s3") is not rds
    clients.reset()
    assert clients.client("rds") is not rds


def test_clients_retry_once_and_name_the_product() -> None:
    config = clients.client("athena").meta.config
    # The state machine retries visibly; the SDK makes one attempt more at most (the initial
    # request included: botocore's `max_attempts` would count retries only).
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert "aurora-lake" in config.user_agent_extra


def test_no_client_exists_before_one_is_asked_for() -> None:
    assert clients._clients == {} and clients._session is None
    clients.client("sns")
    assert list(clients._clients) == ["sns"]


def test_threads_asking_at_once_share_one_client() -> None:
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def ask() -> None:
        barrier.wait()
        seen.append(clients.client("glue"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len({id(client) for client in seen}) == 1


def test_a_throttled_call_is_sent_twice_then_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sent: list[str] = []
    body = b"<ErrorResponse><Error><Code>Throttling</Code><Message>slow down</Message></Error></ErrorResponse>"

    def throttled(request: object, **_: object) -> AWSResponse:
        sent.append("attempt")
        return AWSResponse("https://sns.eu-west-1.amazonaws.com/", 400, {}, _Raw(body))

    sns = clients.client("sns")
    sns.meta.events.register("before-send.sns.Publish", throttled)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    with pytest.raises(ClientError) as error:
        sns.publish(TopicArn="arn:aws:sns:eu-west-1:123456789012:t", Message="m")
    assert error.value.response["Error"]["Code"] == "Throttling"
    assert len(sent) == 2


class _Raw:
    """The raw stream botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: object) -> list[bytes]:
        return [self._body]
