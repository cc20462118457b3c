"""Secret age function: daily metrics of every secret of an environment (archive root: handler.py + rotation_common/)."""
