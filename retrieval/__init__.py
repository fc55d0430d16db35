"""The REST search service: token → principals → access filter → search inside the index → audited results."""
