"""Administration: erasure, the audit log, loading the champion now."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query

from serving.api.candidates import CandidateId
from serving.deps import Admin, StateDep, Who
from serving.errors import ERRORS, NOT_FOUND, UNAVAILABLE, ApiError
from serving.schemas import MAX_PAGE, IsoDate, ReloadResult
from serving.services.erasure import forget
from serving.trust_schemas import AuditList, AuditRow, Erased
from store import audit

router = APIRouter(tags=["admin"], responses=ERRORS)


@router.delete("/v1/admin/candidates/{candidate_id}", response_model=Erased, responses=NOT_FOUND)
def erase_candidate(
    candidate_id: CandidateId, principal: Admin, state: StateDep, who: Who
) -> Erased:
    """Erase a candidate's personal data everywhere keepwarm keeps it (PIPL art. 47)."""
    with state.write_lock:
        removed = forget(state.engine, candidate_id, who, "DELETE /v1/admin/candidates/{id}")
    state.scorer.reset()
    return Erased(candidate_id=candidate_id, removed=removed.rows)


@router.get("/v1/admin/audit", response_model=AuditList)
def audit_log(
    principal: Admin,
    state: StateDep,
    who: Who,
    candidate: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[IsoDate | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditList:
    """The audit log, newest first: who read or changed whose data, when, from where."""
    state.reads.flush()  # this process's latest reads first
    frame = audit.entries(state.engine, candidate, actor, since, limit=limit)
    state.audit(who, "read", "GET /v1/admin/audit", detail={"candidate_filter": bool(candidate)})
    rows = [AuditRow.model_validate(r) for r in _records(frame)]
    return AuditList(total=len(rows), rows=rows)


@router.post("/v1/admin/reload-model", response_model=ReloadResult, responses=UNAVAILABLE)
def reload_model(principal: Admin, state: StateDep) -> ReloadResult:
    """Load the model behind the `champion` alias now, without a restart."""
    version, changed = state.reload_model()
    if version is None:
        raise ApiError(503, "no_model", "no champion model yet: run `keepwarm train`")
    return ReloadResult(model_version=version, changed=changed)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if (not isinstance(v, (list, dict)) and pd.isna(v)) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
