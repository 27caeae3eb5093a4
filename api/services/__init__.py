"""What routes and pages share; neither imports the other's modules for it.

    queries.py     every InfluxQL statement of the API, from validated values
    series.py      an enterprise's readings, judged hours and days; the readings' CSV
    rankings.py    the ranking formulas (pure);  standings.py  the rankings as served
    rejections.py  rejected input by period, enterprise, reason and source

May import: ``core``, ``store``, and of ``api`` the state, access, params and models.
"""
