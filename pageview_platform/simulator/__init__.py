"""Simulates the operational system and extract processes that fill the landing tables."""

from pageview_platform.simulator.config import SimulationConfig
from pageview_platform.simulator.simulator import Event, Simulator

__all__ = ["Event", "SimulationConfig", "Simulator"]
