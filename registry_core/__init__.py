"""The model registry library: a DuckDB file, an artifact folder, an MLflow-style client."""
