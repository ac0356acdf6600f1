"""What the service does, as plain functions: no FastAPI here.

The API (``serving.api``), the console (``serving.console``) and the command
line all call these, so each query and each action exists once: who may see
what (``scope``), risk rows (``risk``), scores (``scores``), a candidate's page
(``candidates``), alerts, plans and marking them done (``plans``), overrides and
explanations (``overrides``), consent withdrawal and erasure (``erasure``),
writes of contract items (``writes``) and the daily batch (``daily``).
Errors are ``serving.services.errors``; ``serving.errors`` turns them into HTTP.
"""
