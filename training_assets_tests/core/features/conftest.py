"""The temporary Feast repo of the ASOF parity tests, shared by every test module here."""

from training_assets_tests.core.features.test_asof_offline_store import repo  # noqa: F401
