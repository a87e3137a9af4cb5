"""`hashwall worker`: the one background process. It runs every duty that is not a
request (feed syncs with their feedback, webhook deliveries, retention purges), each
under a lease or a per-row claim, so that several workers share the work."""
