"""What ingest, retrieval and acl_sync share: settings, principals and ACLs, the chunk index, the embedder."""
