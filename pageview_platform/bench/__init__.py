"""The benchmark: every load through production's CLI, a process each, against a plain-SQL floor."""
