"""Admin settings pages: inboxes, teams, agents and roles, labels (admins only)."""
