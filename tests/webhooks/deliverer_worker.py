"""A separate deliverer process for the crash and concurrency tests.

`python -m tests.webhooks.deliverer_worker MODE REGISTRY` prints `ready`, waits for a line on
stdin, then either drains the outbox (`drain`, printing the summary as JSON) or claims the due
deliveries and prints their ids without ever sending them (`claim`, waiting to be killed).
"""

from __future__ import annotations

import json
import sys
import time

from registry_core.client import RegistryClient
from registry_core.store.outbox import OutboxStore
from registry_core.webhooks.delivery import WebhookDeliverer


def main() -> None:
    mode, registry = sys.argv[1:3]
    client = RegistryClient(registry)
    deliverer = WebhookDeliverer(OutboxStore(client._store.manager))
    print("ready", flush=True)
    sys.stdin.readline()
    if mode == "drain":
        summary = deliverer.deliver_pending()
        print(json.dumps(summary.__dict__), flush=True)
    elif mode == "claim":
        now_ms = int(time.time() * 1000)
        lease_ms = int(deliverer.config.lease_seconds * 1000)
        claims = deliverer.outbox.claim_due(deliverer.owner, now_ms, lease_ms, 100)
        client.close()
        print(json.dumps([claim.delivery_id for claim in claims]), flush=True)
        sys.stdin.readline()
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
