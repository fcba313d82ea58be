"""The agent UI: base templates, sign-in, and (with the workspace) inbox and conversation views."""
