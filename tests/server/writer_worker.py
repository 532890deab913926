"""A writer process for the kill test: registers COUNT versions of `m` through the server,
each tagged with its writer and sequence number, and prints `ok WRITER SEQ VERSION` after
each call the server confirmed (retries after a dropped connection reuse the idempotency key)."""

from __future__ import annotations

import sys

from registry_core.client import RegistryClient


def main(url: str, writer: str, count: int) -> None:
    client = RegistryClient(url)
    for seq in range(count):
        mv = client.create_model_version(
            "m", f"runs:/{writer}s{seq}/model", tags={"writer": writer, "seq": str(seq)}
        )
        print(f"ok {writer} {seq} {mv.version}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
