"""Realistic data for the demo and the benchmarks, written in bulk."""
