"""The archive of call recordings: ingest, transcode, retention, retrieval."""
