"""The serving stage: the champion model in, HTTP out (API, console), plus the daily batch.

``main`` is the app factory; ``api`` and ``console`` translate HTTP; ``services``
holds what they do (also called by the command line and the flows); ``scorer``
keeps the model and a few days of feature rows; ``state`` what a running app
shares; ``auth``/``users`` keys and console sign-in; ``greenhouse`` the ATS
webhook mapping; ``schemas`` the API bodies; ``metrics`` Prometheus.
"""
