"""The public HTTP API, v1 (flask-smorest blueprints)."""

# Collections answer pages of 50 by default, 200 at most (the contract's numbers).
PAGINATION = {"page_size": 50, "max_page_size": 200}
