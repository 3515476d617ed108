"""Paths of the test fixtures (tests/fixtures/): every file the suite reads lives in the repository.
The figures the tests assert are written beside the files, in tests/fixtures/EXPECTED.md."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY = FIXTURES / "legacy"
TRANSCRIPTS = FIXTURES / "transcripts"
HOOKS = FIXTURES / "hooks"
OTLP = FIXTURES / "otlp"
