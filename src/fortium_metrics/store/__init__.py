"""The store: schema, engines, units of work. Importing it registers every table (the event
tables in models.py, the analytics rollups in rollups.py, the saved dashboards in
dashboards/models.py) on the one `Base.metadata`, and lists the rollups and dashboards among the
tenant tables (`models.TENANT_TABLES`), before any other module reads either."""
from ..dashboards import models as _dashboards  # noqa: F401 (registers its table)
from . import invitation_models as _invitations  # noqa: F401 (registers its table)
from . import leases, models, rollups  # noqa: F401 (leases registers job_leases)

# By name: dashboards/models.py may be the module being imported first, still half-defined here.
models.TENANT_TABLES += [name for name in (*rollups.ROLLUP_TABLES, "dashboards", "invitations") if name not in models.TENANT_TABLES]
