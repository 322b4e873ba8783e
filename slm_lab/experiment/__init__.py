"""Runs: the loop, sessions, trials, searches, and the metrics and graphs of their folders."""
