# The complete OAuth 1.0a dance with requests-oauthlib, as real users run it (driven by
# python.test.ts): prints the authorization URL, reads the callback URL the browser reached from
# stdin, exchanges the verifier and prints the access token as JSON.
import json
import sys

from oauthlib.oauth1 import SIGNATURE_RSA
from requests_oauthlib import OAuth1Session

base, consumer_key, key_file, callback = sys.argv[1:5]
with open(key_file) as f:
    rsa_key = f.read()

session = OAuth1Session(consumer_key, signature_method=SIGNATURE_RSA, rsa_key=rsa_key, callback_uri=callback)
request_token = session.fetch_request_token(base + "/plugins/servlet/oauth/request-token")
print(json.dumps({"authorize": session.authorization_url(base + "/plugins/servlet/oauth/authorize"),
                  "confirmed": request_token.get("oauth_callback_confirmed")}), flush=True)

redirected_to = sys.stdin.readline().strip()
session.parse_authorization_response(redirected_to)
access = session.fetch_access_token(base + "/plugins/servlet/oauth/access-token")
print(json.dumps(access), flush=True)
