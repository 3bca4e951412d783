"""Rigazzi (2019), DC-S3GD: delay-compensated stale-synchronous data-parallel SGD."""
