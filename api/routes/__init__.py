"""One router per resource of the API (DESIGN §3.4)."""
