# Models arrive with the work that needs them; see docs/architecture.md.
