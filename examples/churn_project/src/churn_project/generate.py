"""Write the example's raw data, `data/customers.parquet`: seeded synthetic subscription customers.

Run it once before materializing: `python -m churn_project.generate [path] [--rows N --seed S]`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = PROJECT_ROOT / "data" / "customers.parquet"


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Customers with a plan, tenure, usage and support history, and whether they cancelled."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["monthly", "annual"], size=rows, p=[0.6, 0.4])
    tenure = rng.integers(1, 60, rows)
    monthly_fee = np.round(rng.uniform(10, 80, rows), 2)
    logins = rng.poisson(12, rows)
    tickets = rng.poisson(1.2, rows)
    risk = (
        1.4 * (plan == "monthly")
        - 0.05 * tenure
        + 0.02 * (monthly_fee - 40)
        - 0.08 * logins
        + 0.5 * tickets
        + 0.3
    )
    cancelled = rng.uniform(size=rows) < 1 / (1 + np.exp(-4 * risk))
    return pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "plan": plan,
            "tenure_months": tenure,
            "monthly_fee": monthly_fee,
            "logins_last_30d": logins,
            "support_tickets": tickets,
            "cancelled": cancelled.astype(np.int64),
        }
    )


def write(path: Path = CUSTOMERS, rows: int = 2000, seed: int = 0) -> Path:
    """Write the customers table as Parquet (through DuckDB, so no pyarrow is needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    try:
        connection.from_df(customers(rows, seed)).write_parquet(str(path))
    finally:
        connection.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=CUSTOMERS)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write(args.path, args.rows, args.seed))


if __name__ == "__main__":
    main()
