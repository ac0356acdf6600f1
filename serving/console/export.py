"""The risk list as CSV (UTF-8 with BOM, for Excel) or Excel, filtered as on screen.

Cells a spreadsheet would run as a formula stay text (``serving.services.sheets``).
"""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.console.pages import filters_of, page_day, page_error
from serving.deps import Signed, Viewer
from serving.i18n import t
from serving.services.errors import ServiceError
from serving.services.risk import risk_table, with_reasons
from serving.services.sheets import inert

router = APIRouter(include_in_schema=False)


def _frame(who: Viewer, request: Request) -> tuple[pd.DataFrame, dt.date]:
    day = page_day(request, who.state)
    try:
        table = risk_table(who.state, who.principal, day, filters_of(request))
        rows = with_reasons(who.state, day, table)
    except ServiceError as exc:
        raise page_error(exc) from None
    who.audit("export", request.url.path, rows["candidate_id"].astype(str).tolist())
    lang = who.lang
    text = "text_zh" if lang == "zh" else "text_en"
    out = pd.DataFrame(
        {
            t("rank", lang): rows["rank"],
            t("candidate", lang): rows["candidate_id"],
            t("owner", lang): rows["hr_owner"],
            t("department", lang): rows["department"],
            t("role_family", lang): rows["role_family"],
            t("risk_col", lang): rows["risk"].round(4),
            t("risk_meaning", lang): rows["risk_shown"],
            t("owner_rank_col", lang): [
                f"{a} / {b}" for a, b in zip(rows["owner_rank"], rows["owner_total"], strict=True)
            ],
            t("tier", lang): [t(x, lang) for x in rows["tier"]],
            t("risk_30d_col", lang): rows["risk_30d"].round(4),
            t("urgency", lang): [t(u, lang) if isinstance(u, str) else "" for u in rows["urgency"]],
            t("change", lang): rows["change"].round(4),
            t("days_to_start", lang): rows["days_to_start"],
            t("alert", lang): ["; ".join(t(a, lang) for a in al) for al in rows["alerts"]],
            t("next_action", lang): [
                t(a, lang) if isinstance(a, str) else "" for a in rows["next_action"]
            ],
            t("reasons", lang): ["; ".join(r[text] for r in rs) for rs in rows["reasons"]],
        }
    )
    return inert(out), day


def _attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/risk.csv", response_class=Response)
def risk_csv(request: Request, who: Signed) -> Response:
    frame, day = _frame(who, request)
    body = frame.to_csv(index=False).encode("utf-8-sig")  # the BOM lets Excel read Chinese
    return _attachment(body, "text/csv; charset=utf-8", f"keepwarm-risk-{day}.csv")


@router.get("/risk.xlsx", response_class=Response)
def risk_xlsx(request: Request, who: Signed) -> Response:
    frame, day = _frame(who, request)
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, sheet_name=str(day), engine="openpyxl")
    return _attachment(
        buffer.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"keepwarm-risk-{day}.xlsx",
    )
