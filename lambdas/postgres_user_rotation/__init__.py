"""Rotation function for PostgreSQL application users (alternating users, shared owner role).

Archive root: handler.py, database.py, rds-global-bundle.pem, rotation_common/ and the
vendored pg8000 distributions (see VENDOR).
"""
