"""A Feast offline store whose point-in-time join is a DuckDB ASOF join (`feast_asof.store`).

The package stands on its own: it needs Feast with its DuckDB extra, DuckDB, pyarrow and
universal-pathlib, and nothing else of the project it lives in, so that it can be copied into
any Feast repo. Importing this package does not import Feast; `feast_asof.store` does.
"""

PROVENANCE_PREFIX = "__provenance__"
"""Start of the columns that `provenance_columns: true` adds, per feature view:
`__provenance__<view>__timestamp` and `__provenance__<view>__created`."""
