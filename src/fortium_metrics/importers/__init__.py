"""Importers of historical data: parsers turn files into typed events; the runner stores them."""
