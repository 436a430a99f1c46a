"""Local stand-ins for the outside services callwire talks to (push services, webhooks)."""
