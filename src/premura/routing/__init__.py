"""Teams, and later business hours, SLA policies, rules and auto-assignment."""
