"""Shared logic of the Aurora snapshot to data lake functions.

Each function package holds its handler (``app.py``) and this library; handlers
stay thin and call the plain functions defined here.
"""
