"""The HTTP API: one ``APIRouter`` per resource; routes only translate HTTP to a service call.

``ops`` (health, readiness, metrics), ``events`` (the ATS's writes), ``scores``
(scores and the risk list), ``candidates`` (detail, explanation, override,
consent), ``alerts``, ``plans`` (the day's plan, done), ``webhooks``
(Greenhouse) ``admin`` (erasure, audit log, model reload) and ``runs`` (the day's run, for a
scheduler).
"""

from serving.api import admin, alerts, candidates, events, ops, plans, runs, scores, webhooks

ROUTERS = [
    ops.router,
    events.router,
    scores.router,
    candidates.router,
    alerts.router,
    plans.router,
    webhooks.router,
    admin.router,
    runs.router,
]
