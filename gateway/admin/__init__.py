"""The agency's workbench over HTTP: ``/admin/v1/`` (records, history, publish, keys).

    workbench   what the routes hold: the store, the profile, the calendar; publish (an incremental sync)
    schemas     the bodies and answers, for validation and the OpenAPI document
    records     create, correct and list the import contract's records; a physician's history
    publish     ``POST /admin/v1/publish`` and the API keys

Every route is guarded by ``gateway.api.auth.ApiKeyGuard`` with the needs of ``gateway.api.roles``.
Blocking SQL and Redis: the routes are plain functions, run by FastAPI in its thread pool.
"""
