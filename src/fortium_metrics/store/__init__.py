"""The store: schema, engines, units of work. Importing it registers every table (the event
tables in models.py, the analytics rollups in rollups.py) on the one `Base.metadata`, and lists the
rollups among the tenant tables (`models.TENANT_TABLES`), before any other module reads either."""
from . import models, rollups

models.TENANT_TABLES += [name for name in rollups.ROLLUP_TABLES if name not in models.TENANT_TABLES]
