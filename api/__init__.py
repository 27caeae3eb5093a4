"""The HTTP API (``python -m api``) and the web pages it serves.

    main.py      the app and its lifespan;  state.py  what routes, pages and services share
    deps.py      the routes' dependencies (caller, reach, ranges);  access.py  reach and roles
    services/    what routes and pages share (series, rankings, rejections, queries)
    routes/      the JSON API, thin: parse, authorize, call a service, answer a model
    web/         the pages;  keys.py, cli.py  API keys;  models.py  response models (Page[T])

May import: ``core``, ``store``.
"""
