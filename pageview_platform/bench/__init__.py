"""The benchmark: every load through the production path and a plain-SQL baseline, measured."""
