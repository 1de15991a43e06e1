"""The public HTTP API, v1 (flask-smorest blueprints)."""
import marshmallow as ma
from flask_smorest import pagination

# Collections answer pages of 50 by default, 200 at most (the contract's numbers).
PAGINATION = {"page_size": 50, "max_page_size": 200}
# Beyond this a page number is nonsense, and its OFFSET would overflow the database's integer.
MAX_PAGE = 1_000_000

_smorest_pagination_schema = pagination._pagination_parameters_schema_factory


def _bounded_pagination_schema(def_page, def_page_size, def_max_page_size):
    """flask-smorest's pagination parameters, with `page` bounded (flask-smorest leaves it open).

    flask-smorest 0.47 builds this schema in a module-level factory with no setting for it; we
    wrap that factory (tests/api/test_lots.py checks a huge page is a 422, not a 500).
    """
    schema = _smorest_pagination_schema(def_page, def_page_size, def_max_page_size)
    return type(schema.__name__, (schema,), {
        "page": ma.fields.Integer(load_default=def_page, validate=ma.validate.Range(min=1, max=MAX_PAGE))})


pagination._pagination_parameters_schema_factory = _bounded_pagination_schema
