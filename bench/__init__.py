"""Benchmarks of the operator (they print figures; they are not timed tests). See docs/performance.md."""
