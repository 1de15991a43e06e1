"""Entry point for `flask --app wsgi` and WSGI servers: `gunicorn wsgi:app`."""
from exchange import create_app
from exchange.gc_schedule import schedule_full_collections

app = create_app()
schedule_full_collections(app)  # a server process's full collections on a schedule (GC_FULL_EVERY_S)
