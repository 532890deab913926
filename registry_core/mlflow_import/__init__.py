"""Move in from MLflow: read a whole MLflow registry through MLflow's own client and write it
here, one registered model per transaction, its artifacts stored (content-addressed) first.

`importer.import_mlflow` is the entry point; `bundle` holds what the store is handed, and only
`reader` and `convert` import MLflow (the optional `[mlflow]` extra).
"""
