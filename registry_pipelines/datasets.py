"""The shipped demo datasets as seeded snapshots, and every training table's train/test split
(scikit-learn is imported by the steps that split or load its data, not by the code location)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from registry_pipelines.specs import DataSpec, Task

WINE_SNAPSHOT_FRACTION = 0.9


def snapshot_seed(key: str) -> int:
    """A stable 31-bit seed for a snapshot key (run id, date), the same in every process."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def load_demo(spec: DataSpec, seed: int) -> pd.DataFrame:
    """The `seed` snapshot of a demo dataset: numeric feature columns plus the target column."""
    rng = np.random.default_rng(seed)
    match spec.demo, spec.rows:
        case "synthetic_churn", int(rows):
            return _churn_table(rows, rng)
        case "sklearn_wine", None:
            return _wine_snapshot(rng)
        case "synthetic_house", int(rows):
            return _house_table(rows, rng)
    raise ValueError(f"no demo dataset {spec.demo!r} with rows={spec.rows}")


def split(
    frame: pd.DataFrame, spec: DataSpec, task: Task, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Hold out `spec.test_size` of the rows, stratified on the target for classification."""
    from sklearn.model_selection import train_test_split

    features = frame.drop(columns=[spec.target])
    target = frame[spec.target]
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        target,
        test_size=spec.test_size,
        random_state=seed,
        stratify=target if task == "classification" else None,
    )
    return x_train, x_test, y_train, y_test


def _churn_table(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Synthetic subscription customers whose `churned` label follows a steep logistic risk."""
    # Month-to-month contracts, short tenure, high charges, support calls and late payments raise
    # the risk; autopay, more products and two-year contracts lower it. About 37% churn, and the
    # steep (x10) link leaves ~3% of labels ambiguous, so a good model scores ~95%, not 100%.
    contract_type = rng.choice(3, size=rows, p=[0.5, 0.3, 0.2])  # month-to-month, 1 year, 2 years
    tenure_months = np.clip(np.round(rng.gamma(2.0, 12.0, rows) + 6 * contract_type), 1, 72)
    monthly_charges = np.round(rng.uniform(20.0, 120.0, rows), 2)
    total_charges = np.round(monthly_charges * tenure_months * rng.uniform(0.9, 1.1, rows), 2)
    support_calls = rng.poisson(1.5, rows)
    num_products = rng.integers(1, 5, rows)
    has_autopay = rng.binomial(1, 0.5, rows)
    late_payments = rng.poisson(0.8, rows)
    senior_citizen = rng.binomial(1, 0.16, rows)
    paperless_billing = rng.binomial(1, 0.6, rows)
    risk = (
        1.6 * (contract_type == 0)
        - 0.8 * (contract_type == 2)
        - 0.06 * tenure_months
        + 0.03 * (monthly_charges - 70.0)
        + 0.55 * support_calls
        + 0.8 * late_payments
        - 0.9 * has_autopay
        - 0.35 * (num_products - 1)
        + 0.3 * senior_citizen
        - 0.3
    )
    churned = rng.uniform(size=rows) < 1.0 / (1.0 + np.exp(-10.0 * risk))
    return pd.DataFrame(
        {
            "tenure_months": tenure_months.astype(np.int64),
            "contract_type": contract_type.astype(np.int64),
            "monthly_charges": monthly_charges,
            "total_charges": total_charges,
            "support_calls": support_calls.astype(np.int64),
            "num_products": num_products.astype(np.int64),
            "has_autopay": has_autopay.astype(np.int64),
            "late_payments": late_payments.astype(np.int64),
            "senior_citizen": senior_citizen.astype(np.int64),
            "paperless_billing": paperless_billing.astype(np.int64),
            "churned": churned.astype(np.int64),
        }
    )


def _wine_snapshot(rng: np.random.Generator) -> pd.DataFrame:
    """A seeded 90% subsample of scikit-learn's wine data, so each snapshot differs."""
    # Sampling without replacement (unlike a bootstrap) keeps rows unique, so no row can land in
    # both train and test; kept rows stay in their original order.
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    size = round(WINE_SNAPSHOT_FRACTION * len(frame))
    kept = np.sort(rng.choice(len(frame), size=size, replace=False))
    return frame.iloc[kept].reset_index(drop=True)


def _house_table(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Features f1, f2, f3 uniform on [0, 10); price = 2*f1 + 3*f2 - 0.5*f3 + N(0, 1) + 50."""
    features = rng.uniform(0.0, 10.0, size=(rows, 3))
    noise = rng.normal(0.0, 1.0, rows)
    price = features @ np.array([2.0, 3.0, -0.5]) + noise + 50.0
    return pd.DataFrame(
        {"f1": features[:, 0], "f2": features[:, 1], "f3": features[:, 2], "price": price}
    )
