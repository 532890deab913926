"""The user's own feature asset: model-ready columns from the raw customers file."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from churn_project.generate import CUSTOMERS

CUSTOMERS_ENV = "CHURN_CUSTOMERS_PATH"


@dg.asset(kinds={"pandas", "parquet"}, group_name="features")
def customer_features() -> pd.DataFrame:
    """One row per customer: numeric features and the `cancelled` label."""
    path = Path(os.environ.get(CUSTOMERS_ENV) or CUSTOMERS)
    if not path.is_file():
        raise dg.Failure(f"{path} is missing: run `python -m churn_project.generate` first")
    connection = duckdb.connect()
    try:
        raw = connection.read_parquet(str(path)).df()
    finally:
        connection.close()
    return pd.DataFrame(
        {
            "annual_plan": (raw["plan"] == "annual").astype("int64"),
            "tenure_months": raw["tenure_months"].astype("int64"),
            "monthly_fee": raw["monthly_fee"].astype("float64"),
            "logins_last_30d": raw["logins_last_30d"].astype("int64"),
            "support_tickets": raw["support_tickets"].astype("int64"),
            "cancelled": raw["cancelled"].astype("int64"),
        }
    )
