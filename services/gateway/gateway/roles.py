"""``python -m gateway.roles`` prints the role table the README carries (tests/contract/test_roles.py checks it)."""
from gateway.openapi import role_table
from gateway.service import GatewayService

if __name__ == "__main__":
    print(role_table(GatewayService))
