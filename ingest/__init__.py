"""Batch ingest: files → elements → sanitized text → chunks → ACL-tagged points in the index."""
