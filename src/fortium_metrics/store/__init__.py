"""The store: schema, engines, units of work. Importing it registers every table (the event
tables in models.py, the analytics rollups in rollups.py) on the one `Base.metadata`."""
from . import models, rollups  # noqa: F401
