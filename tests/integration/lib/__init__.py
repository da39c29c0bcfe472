"""Helpers for the ngrnotok integration tests."""
