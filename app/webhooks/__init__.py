"""Webhooks: platforms told of decisions and quarantines, through a transactional outbox
and signed deliveries (Standard Webhooks)."""
