"""Exit 0 when the PostgreSQL at the given SQLAlchemy URL accepts a connection, 1 otherwise."""
import sys

import psycopg

url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://")
try:
    psycopg.connect(url, connect_timeout=3).close()
except psycopg.Error:
    sys.exit(1)
