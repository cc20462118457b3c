"""Rotation function for scoped API keys (archive root: handler.py + rotation_common/)."""
