"""The Dagster code location: the model lifecycle as software-defined assets."""
