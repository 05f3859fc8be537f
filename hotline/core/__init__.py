"""Settings, database, event bus and the error base class. Imports nothing of ours."""
