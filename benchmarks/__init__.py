"""Benchmarks: batchavatars against two hand-written baselines on the sandbox. Run: python -m benchmarks"""
