"""The catalog's ownership records and Glue's limits (checked against botocore's Glue model)."""

from __future__ import annotations

import botocore.session

from aurora_lake.catalog import glue_limits, ownership

SOURCE = ownership.Source("123456789012", "cluster", "demo-aurora-cluster")


def test_the_limits_are_those_of_botocores_glue_model() -> None:
    shapes = botocore.session.get_session().get_service_model("glue").shape_for
    single = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
    multi = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*"
    translated = {single: glue_limits._SINGLE_LINE, multi: glue_limits._MULTI_LINE}
    for name, (low, high, pattern) in glue_limits.SHAPES.items():
        metadata = shapes(name).metadata
        assert (metadata.get("min", 0), metadata["max"]) == (low, high), name
        assert translated.get(metadata.get("pattern")) is pattern, name
    athena = botocore.session.get_session().get_service_model("athena").shape_for("QueryString").metadata
    assert athena["max"] == glue_limits.ATHENA_QUERY_MAX_BYTES


def test_control_and_overlong_values_are_named() -> None:
    assert glue_limits.value_problems("column", "ok\tname é 😀", "NameString") == []
    problems = glue_limits.value_problems("column", "a\x01b\nc", "NameString")
    assert len(problems) == 1 and "\\x01" in problems[0] and "\\n" in problems[0]
    assert "more than Glue's 255" in glue_limits.value_problems("column", "😀" * 128, "NameString")[0]  # 256 UTF-16 units
    assert glue_limits.value_problems("description", "two\nlines", "DescriptionString") == []


def test_a_latest_table_is_the_same_sources_whatever_export_it_reads() -> None:
    stack = ownership.stack_identity("aurora_lake", "bucket")
    first = ownership.record(stack, SOURCE, "mydb.public.users", ownership.LATEST, "exp-1")
    assert ownership.same_owner(first, ownership.record(stack, SOURCE, "mydb.public.users", ownership.LATEST, "exp-2"))
    for other in (
        ownership.record(stack, SOURCE, "mydb.public.Users", ownership.LATEST, "exp-2"),
        ownership.record(stack, ownership.Source("210987654321", "cluster", "demo-aurora-cluster"), "mydb.public.users", ownership.LATEST, "e"),
        ownership.record(stack, ownership.Source("123456789012", "instance", "demo-aurora-cluster"), "mydb.public.users", ownership.LATEST, "e"),
        ownership.record("glue:other s3:bucket", SOURCE, "mydb.public.users", ownership.LATEST, "exp-2"),
        ownership.record(stack, SOURCE, "mydb.public.users", ownership.VERSIONED, "exp-1"),
    ):
        assert not ownership.same_owner(first, other)
    assert not ownership.same_owner({}, first) and not ownership.same_owner(None, first)


def test_a_versioned_table_is_owned_only_by_its_own_export() -> None:
    stack = ownership.stack_identity("aurora_lake", "bucket")
    versioned = ownership.record(stack, SOURCE, "mydb.public.users", ownership.VERSIONED, "exp-1")
    assert ownership.same_owner(versioned, dict(versioned))
    assert not ownership.same_owner(versioned, ownership.record(stack, SOURCE, "mydb.public.users", ownership.VERSIONED, "exp-2"))
    assert ownership.owner_text({}) == "a table this stack did not create"


def test_a_column_name_within_glues_characters_but_over_athenas_bytes_is_refused() -> None:
    table = {"Name": "t", "StorageDescriptor": {"Location": "s3://b/x/", "Columns": [{"Name": "é" * 200, "Type": "string"}]}}
    assert any("400 bytes long, more than Athena's 255" in problem for problem in glue_limits.table_input_problems(table))
