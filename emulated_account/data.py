"""What the emulated account's databases hold.

One place for every table the export simulator writes: its columns with the
type the database reports (``originalType``), the type the export writes
(``expectedExportedType``, following the conversion rules for snapshot export
to Parquet), and how many rows and batch folders it has.

``expectedExportedType`` is spelled the way public readers of real exports
have seen it: the physical type, then the logical annotation in parentheses,
for example ``binary (UTF8)`` or ``int64 (TIMESTAMP_MICRO)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class Column:
    name: str
    original_type: str
    exported_type: str
    char_max_length: int | None = None
    num_precision: int | None = None
    datetime_precision: int | None = None

    def type_mapping(self) -> dict[str, object]:
        """The column's entry in ``schemaMetadata.originalTypeMappings`` (the fields public samples show)."""
        return {
            "columnName": self.name,
            "originalType": self.original_type,
            "expectedExportedType": self.exported_type,
            "originalCharMaxLength": self.char_max_length or 0,
            "originalNumPrecision": self.num_precision or 0,
            "originalDateTimePrecision": self.datetime_precision or 0,
        }


_S3_PATH_CONVERSION = str.maketrans({"\\": "_", "`": "_", '"': "_", " ": "_"})


@dataclass(frozen=True)
class Table:
    database: str
    schema: str  # MySQL has no schemas: the export uses the database name here
    name: str
    columns: tuple[Column, ...]
    rows: int
    # Batch folders and the part numbers in each; gaps are deliberate (real exports have them).
    # A batch named "" is the older layout: part files directly under the table's base prefix.
    batches: tuple[tuple[str, tuple[int, ...]], ...] = (("1", (0,)),)

    @property
    def target(self) -> str:
        """``database.schema.table``, as ``perTableStatus[].target`` names it."""
        return f"{self.database}.{self.schema}.{self.name}"

    @property
    def folder(self) -> str:
        """The table's base prefix below the export root, as RDS writes it: ``DATABASE/SCHEMA.TABLE``.

        RDS converts backslash, backtick, double quote and space in the S3 path to ``_``
        (``public.Order Notes`` lands in ``public.Order_Notes/``); the metadata keeps the name.
        Written here apart from the workflow's reader, so that the two cannot share a mistake.
        """
        return f"{self.database}/{self.schema}.{self.name}".translate(_S3_PATH_CONVERSION)

    @property
    def part_count(self) -> int:
        return sum(len(parts) for _, parts in self.batches)


@dataclass(frozen=True)
class Cluster:
    identifier: str
    engine: str
    engine_version: str
    databases: tuple[str, ...]
    tables: tuple[Table, ...] = field(default=())

    @property
    def is_postgres(self) -> bool:
        return "postgres" in self.engine


@dataclass(frozen=True)
class DbInstance(Cluster):
    """An RDS DB instance: an engine, its databases and tables, exported from its DB snapshots."""

    storage_type: str = "gp3"


def _pg(name: str, original: str, exported: str, **kw: int) -> Column:
    return Column(name, original, exported, **kw)


STRING = "binary (UTF8)"
TIMESTAMP_MICROS = "int64 (TIMESTAMP_MICRO)"
# PostgreSQL SMALLINT: INT32 annotated INT(16, true) (AWS data conversion tables).
SMALLINT = "int32 (INT_16)"

# PostgreSQL: NUMERIC, DATE, TIME, TIMESTAMP(TZ), INTERVAL, JSON(B), arrays, UUID, enums, INET -> string;
# BIT -> string; SMALLINT -> int32 annotated INT_16; INTEGER -> int32; BIGINT -> int64; REAL -> float; DOUBLE PRECISION -> double;
# BYTEA -> binary; BOOLEAN -> boolean.
POSTGRES_TABLES: tuple[Table, ...] = (
    Table(
        "mydb",
        "public",
        "users",
        (
            _pg("id", "bigint", "int64", num_precision=64),
            _pg("email", "character varying", STRING, char_max_length=320),
            _pg("full_name", "text", STRING),
            _pg("is_active", "boolean", "boolean"),
            _pg("login_count", "integer", "int32", num_precision=32),
            _pg("score", "real", "float", num_precision=24),
            _pg("balance", "numeric", STRING, num_precision=12),
            _pg("created_at", "timestamp with time zone", STRING, datetime_precision=6),
            _pg("signup_date", "date", STRING),
            _pg("profile", "jsonb", STRING),
            _pg("avatar", "bytea", "binary"),
            _pg("flags", "bit", STRING, char_max_length=8),
        ),
        rows=25,
    ),
    Table(
        "mydb",
        "public",
        "orders",
        (
            _pg("id", "bigint", "int64", num_precision=64),
            _pg("user_id", "bigint", "int64", num_precision=64),
            _pg("quantity", "smallint", SMALLINT, num_precision=16),
            _pg("amount", "numeric", STRING, num_precision=10),
            _pg("status", "USER-DEFINED", STRING),
            _pg("date", "date", STRING),
            _pg("placed_at", "timestamp without time zone", STRING, datetime_precision=6),
            _pg("reference", "uuid", STRING),
        ),
        rows=40,
    ),
    Table(
        "mydb",
        "public",
        "order_items",
        (
            _pg("order_id", "bigint", "int64", num_precision=64),
            _pg("line_no", "integer", "int32", num_precision=32),
            _pg("sku", "character varying", STRING, char_max_length=64),
            _pg("unit_price", "double precision", "double", num_precision=53),
            _pg("discount", "money", STRING),
        ),
        rows=60,
    ),
    Table(
        "mydb",
        "public",
        "Ledger_Entries",
        (
            _pg("entry_id", "uuid", STRING),
            _pg("date", "date", STRING),
            _pg("Amount", "double precision", "double", num_precision=53),
            _pg("memo", "text", STRING),
            _pg("posted", "boolean", "boolean"),
            _pg("duration", "interval", STRING),
        ),
        rows=15,
        # The older layout: part files directly under the table's folder, no batch folder.
        batches=(("", (0, 1)),),
    ),
    Table(
        "mydb",
        "public",
        "Order Notes",  # written under public.Order_Notes/
        (
            _pg("order_id", "bigint", "int64", num_precision=64),
            _pg("note", "text", STRING),
            _pg("priority", "smallint", SMALLINT, num_precision=16),
        ),
        rows=12,
    ),
    Table(
        "mydb",
        "public",
        "events",
        (
            _pg("id", "bigint", "int64", num_precision=64),
            _pg("kind", "text", STRING),
            _pg("payload", "json", STRING),
            _pg("occurred_at", "timestamp without time zone", STRING, datetime_precision=6),
            _pg("source_ip", "inet", STRING),
            _pg("tags", "ARRAY", STRING),
        ),
        rows=300,
        # A big table: several batch folders, part numbers with gaps.
        batches=(("1", (0, 1, 3)), ("2", (0, 2)), ("3", (5,))),
    ),
)

# MySQL: DATETIME/TIMESTAMP -> int64 TIMESTAMP_MICROS; DATE, TIME -> string; YEAR -> int32;
# DECIMAL -> int32/int64/fixed_len_byte_array DECIMAL(p,s) (precision > 38 -> string);
# BIGINT UNSIGNED -> fixed_len_byte_array(9) DECIMAL(20,0); INT UNSIGNED -> int64; TINYINT UNSIGNED -> int32; FLOAT -> double;
# JSON, ENUM, SET, TEXT -> string; BIT, BLOB, BINARY -> binary.
MYSQL_TABLES: tuple[Table, ...] = (
    Table(
        "shop",
        "shop",
        "customers",
        (
            Column("id", "int unsigned", "int64", num_precision=10),
            Column("name", "varchar", STRING, char_max_length=200),
            Column("created_at", "datetime", TIMESTAMP_MICROS, datetime_precision=6),
            Column("birth_date", "date", STRING),
            Column("member_since", "year", "int32"),
            Column("tier", "enum", STRING, char_max_length=8),
            Column("age", "tinyint unsigned", "int32", num_precision=3),
        ),
        rows=30,
        batches=(("", (0,)),),  # the older layout
    ),
    Table(
        "shop",
        "shop",
        "products",
        (
            Column("sku", "bigint unsigned", "fixed_len_byte_array(9) (DECIMAL(20,0))", num_precision=20),
            Column("price", "decimal", "int32 (DECIMAL(9,2))", num_precision=9),
            Column("weight", "float", "double", num_precision=12),
            Column("stock", "int", "int32", num_precision=10),
            Column("description", "text", STRING, char_max_length=65535),
            Column("image", "blob", "binary", char_max_length=65535),
            Column("attributes", "json", STRING),
        ),
        rows=20,
    ),
    Table(
        "shop",
        "shop",
        "invoices",
        (
            Column("id", "bigint", "int64", num_precision=19),
            Column("total", "decimal", "int64 (DECIMAL(18,4))", num_precision=18),
            Column("ledger_amount", "decimal", "fixed_len_byte_array(13) (DECIMAL(30,6))", num_precision=30),
            Column("huge_amount", "decimal", STRING, num_precision=50),
            Column("paid", "bit", "binary", num_precision=1),
            Column("issued_at", "timestamp", TIMESTAMP_MICROS, datetime_precision=0),
            Column("due_time", "time", STRING),
        ),
        rows=35,
        batches=(("1", (0, 2)),),
    ),
)

CLUSTERS: tuple[Cluster, ...] = (
    Cluster("demo-aurora-cluster", "aurora-postgresql", "16.4", ("mydb",), POSTGRES_TABLES),
    Cluster("demo-mysql-cluster", "aurora-mysql", "8.0.mysql_aurora.3.08.0", ("shop",), MYSQL_TABLES),
    # Exists in the account, but no deployment of the workflow may export it.
    Cluster(
        "forbidden-cluster",
        "aurora-postgresql",
        "16.4",
        ("payroll",),
        (
            Table(
                "payroll",
                "public",
                "salaries",
                (Column("employee_id", "bigint", "int64"), Column("salary", "numeric", STRING)),
                rows=5,
            ),
        ),
    ),
)

ALLOWED_CLUSTERS: tuple[str, ...] = ("demo-aurora-cluster", "demo-mysql-cluster")

# The organization: source accounts whose clusters and DB instances the lake account exports. Each
# account has databases of its own, opted in (tag aurora-lake:export = the lake's stack name) or
# not; moto keeps each account's RDS apart, so a cluster name may recur in two accounts.
SOURCE_ACCOUNT_IDS: tuple[str, ...] = ("111111111111", "222222222222")
# An account outside the organization: events and calls from it must all be refused.
STRANGER_ACCOUNT_ID = "333333333333"
# An account of the organization outside the targeted OUs (the stack set never reaches it).
SANDBOX_ACCOUNT_ID = "444444444444"

# The emulated AWS Organization (moto's organizations backend): fixed IDs, so a lake's parameters
# can name them. The lake account is a member (in Data), not the management account.
ORGANIZATION_ID = "o-a1b2c3d4e5"
ORGANIZATION_ROOT_ID = "r-ab12"
MANAGEMENT_ACCOUNT_ID = "999999999999"
WORKLOADS_OU = "ou-ab12-11111111"
PRODUCTION_OU = "ou-ab12-22222222"  # inside Workloads
SANDBOX_OU = "ou-ab12-33333333"
DATA_OU = "ou-ab12-44444444"
# (OU, name, parent): parents first.
ORGANIZATIONAL_UNITS: tuple[tuple[str, str, str], ...] = (
    (WORKLOADS_OU, "Workloads", ORGANIZATION_ROOT_ID),
    (PRODUCTION_OU, "Production", WORKLOADS_OU),
    (SANDBOX_OU, "Sandbox", ORGANIZATION_ROOT_ID),
    (DATA_OU, "Data", ORGANIZATION_ROOT_ID),
)
# Where each member account starts.
ACCOUNT_PLACEMENT: dict[str, str] = {
    ACCOUNT_ID: DATA_OU,
    "111111111111": PRODUCTION_OU,
    "222222222222": WORKLOADS_OU,
    SANDBOX_ACCOUNT_ID: SANDBOX_OU,
}
# The OUs the demo's stack set of source-account.yaml targets (auto-deployment).
STACK_SET_TARGET_OUS: tuple[str, ...] = (WORKLOADS_OU,)

SOURCE_ACCOUNT_CLUSTERS: dict[str, tuple[Cluster, ...]] = {
    "111111111111": (
        Cluster("orders-aurora", "aurora-postgresql", "16.4", ("mydb",), POSTGRES_TABLES),
        # Named as a lake-own cluster: the account keeps the two apart.
        Cluster("demo-aurora-cluster", "aurora-postgresql", "16.4", ("mydb",), POSTGRES_TABLES[:1]),
        Cluster(
            "orders-secrets",
            "aurora-postgresql",
            "16.4",
            ("vault",),
            (Table("vault", "public", "api_keys", (Column("id", "bigint", "int64"), Column("secret", "text", STRING)), rows=3),),
        ),
    ),
    "222222222222": (
        Cluster("billing-aurora", "aurora-mysql", "8.0.mysql_aurora.3.08.0", ("shop",), MYSQL_TABLES),
        Cluster(
            "billing-payroll",
            "aurora-mysql",
            "8.0.mysql_aurora.3.08.0",
            ("payroll",),
            (Table("payroll", "payroll", "salaries", (Column("employee_id", "bigint", "int64"), Column("salary", "decimal", STRING)), rows=5),),
        ),
        # Opted in, but its automated snapshots do not copy its tags.
        Cluster("billing-reports", "aurora-mysql", "8.0.mysql_aurora.3.08.0", ("shop",), MYSQL_TABLES[:1]),
    ),
    SANDBOX_ACCOUNT_ID: (Cluster("sandbox-aurora", "aurora-postgresql", "16.4", ("mydb",), POSTGRES_TABLES[:1]),),
}
# The lake's stack name in the demo, and so the opt-in tag's value.
LAKE_STACK_NAME = "aurora-lake"
# ACCOUNT:source -> the value of its opt-in tag (aurora-lake:export); sources not named carry none.
OPT_IN_TAGS: dict[str, str] = {
    "111111111111:orders-aurora": LAKE_STACK_NAME,
    "111111111111:demo-aurora-cluster": LAKE_STACK_NAME,
    "111111111111:orders-db": LAKE_STACK_NAME,
    # Opted in to another lake: not this one's (values compare exactly).
    "111111111111:orders-secrets": "other-lake",
    "222222222222:billing-aurora": LAKE_STACK_NAME,
    "222222222222:billing-db": LAKE_STACK_NAME,
    "222222222222:billing-reports": LAKE_STACK_NAME,
    # Opted in, but its account is outside the stack set's OUs.
    f"{SANDBOX_ACCOUNT_ID}:sandbox-aurora": LAKE_STACK_NAME,
}
# Sources whose automated snapshots carry their tags (CopyTagsToSnapshot).
COPY_TAGS_TO_SNAPSHOT: frozenset[str] = frozenset({
    "111111111111:orders-aurora", "111111111111:demo-aurora-cluster", "111111111111:orders-db", "222222222222:billing-aurora", "222222222222:billing-db",
})

# The clusters of source accounts opted in to the demo lake, as ACCOUNT:cluster.
ALLOWED_SOURCE_CLUSTERS: tuple[str, ...] = (
    "111111111111:orders-aurora",
    "111111111111:demo-aurora-cluster",
    "222222222222:billing-aurora",
)


def source_cluster(account_id: str, identifier: str) -> Cluster:
    """A cluster of a source account (KeyError when that account has none of that name)."""
    for candidate in SOURCE_ACCOUNT_CLUSTERS.get(account_id, ()):
        if candidate.identifier == identifier:
            return candidate
    raise KeyError(f"{account_id}:{identifier}")

# RDS for MariaDB: the MySQL and MariaDB table of the RDS User Guide's data conversion, with the
# types MariaDB itself reports. MariaDB's JSON is an alias of LONGTEXT (information_schema says
# "longtext"); MEDIUMINT, TINYINT UNSIGNED, DOUBLE, SET are shared with MySQL. UUID and INET6
# (MariaDB 10.7 and 10.5 types of its own) are not in AWS's table: exported as strings here,
# UNCONFIRMED (FIDELITY.md); whatever RDS writes, an unknown spelling fails naming the column.
MARIADB_TABLES: tuple[Table, ...] = (
    Table(
        "inventory",
        "inventory",
        "stock_items",
        (
            Column("id", "int", "int32", num_precision=10),
            Column("sku", "varchar", STRING, char_max_length=64),
            Column("quantity", "mediumint", "int32", num_precision=7),
            Column("reorder_level", "smallint unsigned", "int32", num_precision=5),
            Column("weight_kg", "double", "double", num_precision=22),
            Column("price", "decimal", "int64 (DECIMAL(12,2))", num_precision=12),
            Column("attributes", "longtext", STRING, char_max_length=4294967295),
            Column("tags", "set", STRING, char_max_length=40),
            Column("updated_at", "datetime", TIMESTAMP_MICROS, datetime_precision=6),
        ),
        rows=30,
    ),
    Table(
        "inventory",
        "inventory",
        "warehouses",
        (
            Column("id", "bigint unsigned", "fixed_len_byte_array(9) (DECIMAL(20,0))", num_precision=20),
            Column("code", "char", STRING, char_max_length=8),
            Column("external_id", "uuid", STRING),
            Column("gateway", "inet6", STRING),
            Column("opened", "date", STRING),
            Column("active", "tinyint", "int32", num_precision=3),
            Column("floor_plan", "mediumblob", "binary", char_max_length=16777215),
        ),
        rows=8,
    ),
)

# RDS for MySQL: a few tables of a shop's accounting (the same conversion as Aurora MySQL).
MYSQL_INSTANCE_TABLES: tuple[Table, ...] = (
    Table(
        "ledger",
        "ledger",
        "payments",
        (
            Column("id", "bigint", "int64", num_precision=19),
            Column("amount", "decimal", "int32 (DECIMAL(9,2))", num_precision=9),
            Column("currency", "char", STRING, char_max_length=3),
            Column("paid_at", "timestamp", TIMESTAMP_MICROS, datetime_precision=0),
            Column("fiscal_year", "year", "int32"),
            Column("method", "enum", STRING, char_max_length=10),
            Column("receipt", "varbinary", "binary", char_max_length=255),
        ),
        rows=25,
    ),
)

# RDS for PostgreSQL: the PostgreSQL conversion, as for Aurora PostgreSQL.
POSTGRES_INSTANCE_TABLES: tuple[Table, ...] = (
    Table(
        "crm",
        "public",
        "contacts",
        (
            _pg("id", "bigint", "int64", num_precision=64),
            _pg("name", "text", STRING),
            _pg("age", "smallint", SMALLINT, num_precision=16),
            _pg("score", "real", "float", num_precision=24),
            _pg("opted_in", "boolean", "boolean"),
            _pg("created_at", "timestamp with time zone", STRING, datetime_precision=6),
            _pg("tags", "ARRAY", STRING),
        ),
        rows=20,
    ),
)

DB_INSTANCES: tuple[DbInstance, ...] = (
    DbInstance("demo-postgres-db", "postgres", "16.4", ("crm",), POSTGRES_INSTANCE_TABLES),
    DbInstance("demo-mysql-db", "mysql", "8.0.39", ("ledger",), MYSQL_INSTANCE_TABLES),
    DbInstance("demo-mariadb-db", "mariadb", "10.11.9", ("inventory",), MARIADB_TABLES),
    # Allowed, but RDS cannot export an RDS Custom DB instance: refused before anything is created.
    DbInstance("demo-custom-db", "custom-sqlserver-ee", "15.00.4345.5.v1", ("sales",)),
    # Exists in the account, but no deployment of the workflow may export it.
    DbInstance(
        "forbidden-db",
        "postgres",
        "16.4",
        ("hr",),
        (Table("hr", "public", "reviews", (Column("employee_id", "bigint", "int64"), Column("rating", "text", STRING)), rows=4),),
    ),
)

ALLOWED_DB_INSTANCES: tuple[str, ...] = ("demo-postgres-db", "demo-mysql-db", "demo-mariadb-db", "demo-custom-db")


def cluster(identifier: str) -> Cluster:
    for candidate in CLUSTERS:
        if candidate.identifier == identifier:
            return candidate
    raise KeyError(identifier)


def db_instance(identifier: str) -> DbInstance:
    for candidate in DB_INSTANCES:
        if candidate.identifier == identifier:
            return candidate
    raise KeyError(identifier)


def synthetic_tables(count: int, database: str = "mydb", schema: str = "public") -> tuple[Table, ...]:
    """``count`` small tables of identical shape, for exports of thousands of tables."""
    columns = (
        Column("id", "bigint", "int64", num_precision=64),
        Column("name", "text", STRING),
        Column("updated_at", "timestamp without time zone", STRING, datetime_precision=6),
        Column("amount", "double precision", "double", num_precision=53),
    )
    width = max(5, len(str(count)))
    return tuple(Table(database, schema, f"table_{i:0{width}d}", columns, rows=3) for i in range(1, count + 1))


def demo_tables_a_day_later() -> tuple[Table, ...]:
    """The demo cluster's tables at its next export (``make demo``): what changed since, as applications change them.

    ``users`` drops ``flags``, adds ``nickname`` and widens ``login_count`` to bigint; ``events`` lost
    most of its rows; ``order_items`` is empty.
    """
    changed = []
    for table in POSTGRES_TABLES:
        if table.name == "users":
            columns = [
                _pg("login_count", "bigint", "int64", num_precision=64) if c.name == "login_count" else c
                for c in table.columns if c.name != "flags"
            ]
            columns.append(_pg("nickname", "character varying", STRING, char_max_length=40))
            table = Table(table.database, table.schema, table.name, tuple(columns), rows=30, batches=table.batches)
        elif table.name == "events":
            table = Table(table.database, table.schema, table.name, table.columns, rows=40, batches=(("1", (0,)),))
        elif table.name == "order_items":
            table = Table(table.database, table.schema, table.name, table.columns, rows=0)
        changed.append(table)
    return tuple(changed)

# RDS DB instances of source accounts: one opted in in each, one that is not.
SOURCE_ACCOUNT_DB_INSTANCES: dict[str, tuple[DbInstance, ...]] = {
    "111111111111": (
        DbInstance("orders-db", "postgres", "16.4", ("crm",), POSTGRES_INSTANCE_TABLES),
        DbInstance(
            "orders-hr-db",
            "postgres",
            "16.4",
            ("hr",),
            (Table("hr", "public", "reviews", (Column("employee_id", "bigint", "int64"), Column("rating", "text", STRING)), rows=4),),
        ),
    ),
    "222222222222": (DbInstance("billing-db", "mysql", "8.0.39", ("ledger",), MYSQL_INSTANCE_TABLES),),
}


def source_tags(account_id: str, identifier: str) -> list[dict[str, str]]:
    """The tags a source account's cluster or DB instance carries (its opt-in, if any)."""
    value = OPT_IN_TAGS.get(f"{account_id}:{identifier}")
    return [{"Key": "aurora-lake:export", "Value": value}] if value is not None else []
