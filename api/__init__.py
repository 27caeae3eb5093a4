"""The HTTP API (``python -m api``) and the web pages it serves.

    main.py      the app and its lifespan;  deps.py  the state routes share;  access.py reach
    services/    what routes and pages share (queries, rankings);  routes/  the JSON API
    web/         the pages;  keys.py, cli.py  API keys;  models.py  response models

May import: ``core``, ``store``.
"""
