"""Rotation function for webhook signing secrets (archive root: handler.py + rotation_common/)."""
