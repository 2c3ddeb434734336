"""Benchmarks: seed data at scale, drive a production-like server with wrk, print figures (see README)."""
