"""The console's pages, one module per area; importing this package registers them all (decision 91)."""
from . import common, media  # noqa: F401
from . import funds, meetings, projects  # noqa: F401
from . import figures  # noqa: F401
from . import admin  # noqa: F401
from . import office  # noqa: F401
from . import public, tasks  # noqa: F401
