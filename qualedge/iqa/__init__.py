"""NR-IQA and full-reference metrics (see issue #3 for the full layer)."""
