"""Customers: contacts, their identities on every channel, organizations, merge."""
