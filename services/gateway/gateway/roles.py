"""``python -m gateway.roles`` prints the role table the README carries (tests/contract/test_roles.py checks it);
``python -m gateway.roles console`` the table of console pages (tests/contract/test_console_pages.py)."""
import sys

from gateway.console.web import page_table
from gateway.openapi import role_table
from gateway.service import GatewayService

if __name__ == "__main__":
    print(page_table() if sys.argv[1:] == ["console"] else role_table(GatewayService))
