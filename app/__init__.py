"""hashwall: the service, storage, policy and CLI around the matcher and the index."""
