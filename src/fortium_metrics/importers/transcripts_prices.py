"""The model price table (data in `prices.json`, shipped inside the package) and request costs.

cost = (input × P_in + output × P_out + write_5m × P_w5m + write_1h × P_w1h + read × P_read) / 1e6,
USD, an API-list-price estimate (subscription users pay no per-token price). Prices are versioned
by date so an old request is priced with the prices of its day. An unknown model has no cost
(None), never 0.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

# After the longest matching prefix only a release date or "-latest" may follow, so a newer model
# that merely shares a prefix (claude-opus-4-6 vs claude-opus-4) is "unknown", not mispriced.
_SUFFIX = re.compile(r"(?:-\d{8}|-latest)?")


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float

    def cost(self, input_tokens: int, output_tokens: int, write_5m: int, write_1h: int, read: int) -> float:
        total = (input_tokens * self.input + output_tokens * self.output + write_5m * self.cache_write_5m
                 + write_1h * self.cache_write_1h + read * self.cache_read)
        return round(total / 1_000_000, 12)


@dataclass(frozen=True)
class _Version:
    version: str
    effective_from: date
    models: dict[str, Price]


class PriceTable:
    def __init__(self, data: dict[str, Any]) -> None:
        versions = []
        for entry in data["versions"]:
            models = {prefix: Price(**{k: float(v) for k, v in p.items()}) for prefix, p in entry["models"].items()}
            versions.append(_Version(str(entry["version"]), date.fromisoformat(entry["effective_from"]), models))
        if not versions:
            raise ValueError("price table has no versions")
        self.versions = sorted(versions, key=lambda v: v.effective_from)
        self._cache: dict[tuple[str, str], Price | None] = {}

    @classmethod
    def load(cls) -> "PriceTable":
        text = resources.files("fortium_metrics.importers").joinpath("prices.json").read_text(encoding="utf-8")
        return cls(json.loads(text))

    def version_for(self, day: date) -> _Version:
        chosen = self.versions[0]
        for version in self.versions:
            if version.effective_from <= day:
                chosen = version
        return chosen

    def lookup(self, model: str | None, day: date) -> tuple[Price | None, str]:
        """(price, version id); price None when no prefix of the table matches the model."""
        version = self.version_for(day)
        if not model:
            return None, version.version
        key = (version.version, model)
        if key not in self._cache:
            best = None
            for prefix in version.models:
                if model.startswith(prefix) and _SUFFIX.fullmatch(model, len(prefix)) and (best is None or len(prefix) > len(best)):
                    best = prefix
            self._cache[key] = version.models[best] if best else None
        return self._cache[key], version.version
