"""HTTP routes. Rule: parse, call a service or store, return a schema; no SQL here."""
