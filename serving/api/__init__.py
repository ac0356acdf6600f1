"""The HTTP API: one ``APIRouter`` per resource; routes only translate HTTP to a service call.

``ops`` (health, readiness, metrics), ``events`` (the ATS's writes), ``scores``
(scores and the risk list), ``candidates`` (detail, explanation, override,
consent), ``alerts``, ``plans`` (the day's plan, done), ``webhooks``
(Greenhouse) and ``admin`` (erasure, audit log, model reload).
"""

from serving.api import admin, alerts, candidates, events, ops, plans, scores, webhooks

ROUTERS = [
    ops.router,
    events.router,
    scores.router,
    candidates.router,
    alerts.router,
    plans.router,
    webhooks.router,
    admin.router,
]
