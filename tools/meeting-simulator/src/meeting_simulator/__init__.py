"""Meeting simulator (test tooling)."""
