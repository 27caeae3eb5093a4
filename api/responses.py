"""JSON bodies serialised with orjson, for answers of thousands of items.

A route that returns one of these skips FastAPI's re-validation of its answer against the
response model (which still documents it in OpenAPI, and which the schema tests check the
answers against): for a day of minute readings that validation cost more than the query.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class FastJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
