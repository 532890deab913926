"""An example user project: customers in a Parquet file, a feature asset, one registered model."""
