"""Quality scoring: rule packs, scoring of transcripts and call metrics, inspector workflow."""
