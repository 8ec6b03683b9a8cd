"""The console's pages, one module per area; importing this package registers them all (decision 86)."""
from . import common  # noqa: F401
