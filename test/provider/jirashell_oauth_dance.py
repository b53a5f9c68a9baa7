# Runs jirashell's own `oauth_dance` (python-jira), the callback-less OAuth 1.0 client, against
# the gateway (driven by python.test.ts): it prints the authorization URL, waits for "y" on stdin,
# and we print the access token it returns as JSON. keyring is only needed by the interactive
# shell, not by the dance, so a stand-in lets the module import where keyring is not installed.
import json
import sys
import types

sys.modules.setdefault("keyring", types.ModuleType("keyring"))
from jira.jirashell import oauth_dance  # noqa: E402

server, consumer_key, key_file = sys.argv[1:4]
with open(key_file) as f:
    key = f.read()
access = oauth_dance(server, consumer_key, key, print_tokens=True)
print("\n" + json.dumps({k: access[k] for k in ("access_token", "access_token_secret")}), flush=True)
