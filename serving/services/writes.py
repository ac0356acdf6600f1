"""Contract items written through the service (API writes, done actions, webhooks).

Checked exactly as a bundle file is (``store.ingest.check_items``): one bad item
refuses the whole request and nothing is written. A write and its audit entry
land in one transaction; the scorer refreshes the candidates written at once.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from serving import greenhouse
from serving.auth import Principal
from store import audit
from store.ingest import IngestReport, check_items, item_candidate_id, load_bundle

if TYPE_CHECKING:
    from serving.state import AppState


def check_and_load(
    engine: Engine, conn: Connection, table: str, items: list[dict[str, Any]], source: str
) -> IngestReport:
    """Check ``items`` of one contract table and load them in ``conn``'s transaction.

    Raises ``store.bundle.BundleError`` (naming item index and field) before writing.
    """
    body = json.dumps(items, sort_keys=True, default=str).encode()
    bundle = check_items(engine, table, items, source, hashlib.sha256(body).hexdigest())
    touched = sorted({item_candidate_id(i) for i in items})
    return load_bundle(conn, bundle, touched=touched)


def write_items(
    state: AppState,
    table: str,
    items: list[dict[str, Any]],
    principal: Principal,
    who: audit.Actor,
    target: str,
) -> IngestReport:
    """Write items of ``table`` (events, candidates, outcomes), all or nothing, audited."""
    touched = {item_candidate_id(i) for i in items}
    with state.write_lock, state.engine.begin() as conn:
        report = check_and_load(state.engine, conn, table, items, f"api:{table}:{principal.name}")
        # in the same transaction: the change and its record land together or not at all
        audit.record(conn, who, "write", target, sorted(touched), {"items": len(items)})
    state.scorer.wrote(report.batch_id, touched)
    state.data_range.expire()
    if table == "candidates":
        state.scorer.touch(greenhouse.replay_pending(state.engine))
    return report
