"""The registry server: one process holds the registry file and serves it over HTTP.

`app.py` builds the ASGI app from the endpoint table (MLflow's REST API and this registry's
own), `auth.py` decides who a caller is and what they may do, `artifact_routes.py` streams
artifacts in and out, and `serve.py` runs it all on uvicorn.
"""
