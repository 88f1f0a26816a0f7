"""The temporary Feast repo of the parity tests, shared by every test module here."""

from feast_asof.tests.test_store import repo  # noqa: F401
