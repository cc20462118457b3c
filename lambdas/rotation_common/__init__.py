"""Shared runtime of the securestack rotation functions (stdlib + boto3 only).

Packaged at the root of every rotation function's archive, beside the kind's `handler.py`,
hence imported as the top-level package `rotation_common`.
"""
