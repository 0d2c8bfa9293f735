"""Benchmarks of tinygrad_act against its peers (issue 8). Run ``benchmarks/run.py``; never collected by pytest."""
