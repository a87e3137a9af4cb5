"""The content ledger and the takedown sweep: the hashes of what was uploaded (never
the media), looked up again whenever a hash arrives after the upload it matches."""
