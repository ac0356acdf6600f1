"""Erasure and consent withdrawal, audited: the API, the console and the CLI call these."""

from __future__ import annotations

from sqlalchemy import Engine

from outreach.daily import candidate_owners
from serving.auth import Principal
from serving.services.errors import NotFound
from serving.services.scope import visible
from store import audit, erasure


def forget(engine: Engine, candidate_id: str, who: audit.Actor, target: str) -> erasure.Removed:
    """Erase one candidate everywhere and record it (by the id's hash) in one transaction.

    Raises ``NotFound`` when there is no such candidate.
    """
    with engine.begin() as conn:
        if candidate_owners(conn, [candidate_id]).get(candidate_id) is None:
            raise NotFound("no such candidate")
        removed = erasure.forget(conn, candidate_id)
        audit.record(
            conn,
            who,
            "erase",
            target,
            detail={"subject_hash": erasure.id_hash(candidate_id), **removed.as_dict()},
        )
    return removed


def withdraw_consent(
    engine: Engine,
    candidate_id: str,
    who: audit.Actor,
    target: str,
    principal: Principal | None = None,
) -> int:
    """Delete the candidate's outside signals and stop using them; returns signals deleted.

    ``principal``: the caller whose scope is checked (None: the command line, which sees
    everyone). Raises ``NotFound``.
    """
    with engine.begin() as conn:
        if principal is None:
            if candidate_owners(conn, [candidate_id]).get(candidate_id) is None:
                raise NotFound("no such candidate")
        else:
            visible(conn, principal, candidate_id)
        deleted = erasure.withdraw_consent(conn, [candidate_id])
        audit.record(
            conn, who, "consent_withdrawn", target, [candidate_id], {"signals_deleted": deleted}
        )
    return deleted
