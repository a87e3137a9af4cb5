"""The audit trail: every change by a person or a key, hash-chained so that an edited,
deleted or reordered row is found (`chain.verify`)."""
