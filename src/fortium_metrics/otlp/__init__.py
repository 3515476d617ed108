"""OTLP/HTTP receiver: decode (official protobuf definitions), map Claude Code telemetry to events."""
