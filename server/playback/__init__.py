"""Replay: short-lived media tokens, HTTP Range handling and the streaming media endpoint."""
