"""The browser workspace: server-rendered pages over the same services and permission checks
as the JSON API. Rule: a page never decides who may see what; it calls what the API calls."""
