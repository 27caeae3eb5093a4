"""Parsers of the device protocols, one per topic root."""
