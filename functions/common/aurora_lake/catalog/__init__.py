"""The Glue Data Catalog side of the lake: whose each table is, and what Glue accepts."""
