"""Periodic jobs: the scheduler enqueues each due job once, however many schedulers run."""
