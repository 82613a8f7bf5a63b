"""The desk's rules: applications, complaints, handoff, customers, ratings, calendar, catalogue.

No dialog, no platform, no web framework: the domain applies a rule inside the caller's
transaction and raises events; handlers turn events into what a customer reads."""
