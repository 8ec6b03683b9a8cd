"""Versioned marshmallow schemas for HTTP bodies, RPC arguments and event payloads, shared by all services."""
