"""The asset graph: captured extracts -> quarantine and postcode history -> fact -> aggregates."""
