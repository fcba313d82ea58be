"""Conversations (cases), their messages, attachments and events; the ingest pipeline."""
