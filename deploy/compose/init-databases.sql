-- The profile's four databases, each for one service (deploy/production.env names them).
CREATE DATABASE dagster;
CREATE DATABASE feast_registry;
CREATE DATABASE mlflow;
CREATE DATABASE predictions;
