"""The national medical-insurance platform's front (国家医保信息平台): its transactions, its envelopes.

An HIS already talks to the platform; this package lets it talk to drgate the same way, and lets
drgate stand in front of the platform for the fee uploads.  Self-contained: it reads the wire
format into ``lines.Line``, decides through the one check (``gateway.check.service``),
and writes the platform's answers back.  One concept a module:

    wire       lenient readers of the platform's JSON (numbers as strings, "" for absent, …)
    envelope   the request header and the response envelope
    fees       2204/2301 ``feedetail`` lines and the fee-split rows
    orders     3101/3102 ``patient_dtos`` → encounters → orders
    lines      a line, a refused line, and their decision by the core
    aliases    an institution's local doctor codes → 医保医师代码
    results    rejected and refused lines as 3101 results
    feedback   3103, recorded in the decision log
    front      per-worker state, the pooled client to the platform
    handlers   each transaction's answer
    routes     the HTTP endpoints;  openapi: their documentation
"""
