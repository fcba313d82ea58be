"""Channel adapters: each translates a provider's payloads to and from Premura's messages."""
