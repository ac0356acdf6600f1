"""The season simulator: agent-based campus seasons that follow the data contract."""

from simulator.params import SimParams
from simulator.season import SeasonResult, simulate_season, simulate_seasons, write_bundle

__all__ = ["SeasonResult", "SimParams", "simulate_season", "simulate_seasons", "write_bundle"]
