"""Athena names: deterministic, lower-case, quoted where needed, collisions found."""

from __future__ import annotations

import pytest

from aurora_lake.catalog.names import (
    MAX_NAME_LENGTH,
    column_name,
    find_collisions,
    latest_table_name,
    needs_quoting,
    quote,
    quote_if_needed,
    sanitize,
    versioned_table_name,
)


def test_postgresql_table_names_keep_every_part() -> None:
    assert latest_table_name("demo-aurora-cluster", "mydb", "public", "Ledger_Entries") == (
        "demo_aurora_cluster__mydb__public__ledger_entries"
    )


def test_mysql_table_names_do_not_repeat_the_database() -> None:
    assert latest_table_name("demo-mysql-cluster", "shop", "shop", "Orders") == "demo_mysql_cluster__shop__orders"


def test_versioned_name_ends_with_the_export_identifier() -> None:
    assert versioned_table_name("c1", "mydb", "public", "users", "c1-lake-20261102-0300") == (
        "_c1__mydb__public__users__c1_lake_20261102_0300"
    )


def test_a_source_identifier_not_beginning_with_a_letter_is_refused() -> None:
    with pytest.raises(ValueError, match="does not begin with a letter"):
        latest_table_name("_c1", "mydb", "public", "users")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("Ledger-Entries", "ledger_entries"), ("a$b", "a_b"), ("Ünïcode", "_n_code"), ("x.y z", "x_y_z"), ("ok_1", "ok_1")],
)
def test_sanitize_keeps_only_lower_case_letters_digits_underscore(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean


def test_separators_keep_dotted_and_underscored_sources_apart() -> None:
    assert latest_table_name("c", "db", "a_b", "c") != latest_table_name("c", "db", "a", "b_c")


def test_long_names_are_shortened_deterministically_and_keep_the_export_id() -> None:
    long = "t" * 300
    first = versioned_table_name("cluster", "database", "schema", long, "export-2026")
    again = versioned_table_name("cluster", "database", "schema", long, "export-2026")
    other = versioned_table_name("cluster", "database", "schema", long + "x", "export-2026")
    assert first == again
    assert len(first) == MAX_NAME_LENGTH
    assert first.endswith("__export_2026")
    assert first != other
    latest = latest_table_name("cluster", "database", "schema", long * 2)
    assert len(latest) == MAX_NAME_LENGTH and latest.startswith("cluster__database__schema__ttt")


def test_columns_are_lower_cased() -> None:
    assert column_name("CreatedAt") == "createdat"


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("id", "id"),
        ("created_at", "created_at"),
        ("date", "`date`"),
        ("timestamp", "`timestamp`"),
        ("select", "`select`"),
        ("user", "`user`"),
        ("order", "`order`"),
        ("1st_value", "`1st_value`"),
        ("_private", "`_private`"),
        ("a$b", "`a$b`"),
        ("price-eur", "`price-eur`"),
        ("odd`name", "`odd``name`"),
        ("cache", "`cache`"),  # Hive's CACHE, misspelled "cashe" in Athena's published list
        ("cashe", "cashe"),
    ],
)
def test_columns_are_quoted_when_needed(name: str, quoted: str) -> None:
    assert quote_if_needed(name) == quoted


def test_quoting_is_always_safe() -> None:
    assert quote("id") == "`id`"
    assert not needs_quoting("amount")


def test_collisions_after_lower_casing_are_reported_with_every_source() -> None:
    found = find_collisions([("Id", "id"), ("ID", "id"), ("name", "name"), ("name", "name")])
    assert found == {"id": ["Id", "ID"]}


# --- source accounts (issue 20) ---------------------------------------------------------------


def test_a_source_accounts_names_begin_with_the_account() -> None:
    from aurora_lake.catalog import names

    assert names.latest_table_name("orders-aurora", "shop", "public", "orders", "111111111111") == "111111111111__orders_aurora__shop__public__orders"
    assert names.versioned_table_name("orders-aurora", "shop", "public", "orders", "exp-1", "111111111111") == "_111111111111__orders_aurora__shop__public__orders__exp_1"
    assert names.cluster_name_prefix("orders-aurora", "111111111111") == "111111111111__orders_aurora__"
    # The lake's own names are unchanged, and none begins like a source account's or a versioned name.
    own = names.latest_table_name("orders-aurora", "shop", "public", "orders")
    assert own == "orders_aurora__shop__public__orders"
    assert len({own, names.latest_table_name("orders-aurora", "shop", "public", "orders", "222222222222"),
                names.latest_table_name("orders-aurora", "shop", "public", "orders", "111111111111")}) == 3


@pytest.mark.parametrize("account", ["11111111111", "11111111111a", "x11111111111", "１１１１１１１１１１１１", "111111111111__x", ""])
def test_a_source_account_that_is_not_twelve_digits_never_names_a_table(account: str) -> None:
    from aurora_lake.catalog import names

    with pytest.raises(ValueError, match="12-digit"):
        names.latest_table_name("orders-aurora", "shop", "public", "orders", account)
