"""Premura: open-source customer care, one case history per customer."""

__version__ = "0.1.0"
