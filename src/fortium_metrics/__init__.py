"""fortium-metrics: how engineering organisations use AI coding agents, and what it does for them."""

__version__ = "0.1.0"
