"""Prefect wiring of the stages (``pipeline``), its settings (``runtime``), schedules."""
