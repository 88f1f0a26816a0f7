"""The offline store's temporary Feast repo and generated orders, for the tests here of how the
pipeline uses the store."""

from feast_asof.tests.test_store import entity, repo  # noqa: F401
