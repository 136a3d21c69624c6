"""Wire formats of the fronts other than HTTP API v1: one sub-package per format, each translating its
wire to the check core's claim and back (``nhsa/``: the national platform's /nhsa/ interfaces).
A province's own format gets its own ``gateway/formats/<name>/``."""
