"""When the emulated account builds an organization, and when it does not (each test its own account)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulated_account import EmulatedAccount, data
from emulated_account.account import DEFAULT_TEMPLATE


def test_a_single_account_deployment_builds_no_organization() -> None:
    with EmulatedAccount(DEFAULT_TEMPLATE) as account:
        assert account.source_accounts == {} and account.source_rds == {} and account.organization is None
        assert account.events is not None and account.events.source_rds == {}


def test_an_organization_without_its_source_template_fails_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "source-account.yaml"
    with pytest.raises(ValueError, match=str(missing)):
        with EmulatedAccount(DEFAULT_TEMPLATE, with_organization=True, source_template=missing):
            pass


def test_the_organization_follows_the_lakes_organization_id() -> None:
    with EmulatedAccount(DEFAULT_TEMPLATE, parameters={"OrganizationId": data.ORGANIZATION_ID}) as account:
        assert account.organization is not None and set(account.source_accounts) == set(data.SOURCE_ACCOUNT_IDS)
        assert account.functions["ValidateInputFunction"].environment["ORGANIZATION_ID"] == data.ORGANIZATION_ID
