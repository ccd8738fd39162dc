"""The seam between the pipeline and the warehouse: SQL files, connections, I/O managers."""
