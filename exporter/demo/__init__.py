"""Bundled zone files and config for `ses-deliverability-exporter demo` (no AWS, no internet)."""
