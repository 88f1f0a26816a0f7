"""A tabular training pipeline as Dagster software-defined assets, with Feast and MLflow."""
