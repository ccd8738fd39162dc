"""Pageview platform: captures truncated landing extracts and publishes pageviews per postcode."""
