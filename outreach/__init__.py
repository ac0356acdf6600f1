"""Outreach: the brief's alerts, each recruiter's daily plan, and what follows from them.

``alerts`` (the warnings), ``plan`` (next best actions and the cadence), ``daily``
(the day's alerts and plans read from and written to the store), ``digest``,
``overrides``, ``review`` (the monthly review), ``replay`` (policy evaluation).
"""
