"""Resources: the Feast store, MLflow tracking, the orders location and the IO managers."""
