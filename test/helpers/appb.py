#!/usr/bin/python3
"""A test AppB: checks what the gateway sends with implementations other than the gateway's.

OAuth 1.0a signatures with oauthlib (as Atlassian does: base-string URI rebuilt from
X-Forwarded-Proto/-Host/-Port and the request-target received, 2LOi via xoauth_requestor_id),
header-mode HMACs with Python's hmac, JWTs with PyJWT. Answers every request with JSON saying
what it received and which user it ran as; prints one "REQUEST <json>" line per request.

Usage: /usr/bin/python3 appb.py CONFIG.json   (prints "LISTENING <port>" once ready)
Control paths: /__appb/slow?ms=N (answers after N ms), /__appb/download?bytes=N (streams N bytes).
WebSocket upgrades: handshake checked like any request, then a JSON hello and an echo of every frame.
"""
import base64
import hashlib
import hmac
import json
import socketserver
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

CONFIG = {}
SEEN_NONCES = set()
LOCK = threading.Lock()
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
TEXT_LIMIT = 65536


class Refusal(Exception):
    def __init__(self, status, problem, detail, oauth=True):
        super().__init__(detail)
        self.status = status
        self.problem = problem
        self.detail = detail
        self.oauth = oauth


def header_values(headers, name):
    return headers.get_all(name) or []


def request_url(handler, path):
    """The URL this AppB believes it was reached at, as Atlassian's proxy valve derives it."""
    proto = handler.headers.get('X-Forwarded-Proto') or 'http'
    host = handler.headers.get('X-Forwarded-Host') or handler.headers.get('Host') or 'localhost'
    hostname = host.rsplit(':', 1)[0] if not host.endswith(']') else host
    port = handler.headers.get('X-Forwarded-Port')
    if port is None and ':' in host and not host.endswith(']'):
        port = host.rsplit(':', 1)[1]
    netloc = f'{hostname}:{port}' if port else hostname
    return f'{proto}://{netloc}{path}'


def verify_oauth(handler, method, path, query, form_body):
    auth = handler.headers.get('Authorization') or ''
    if not auth.lower().startswith('oauth '):
        raise Refusal(401, 'parameter_absent', 'no OAuth Authorization header')
    header_params = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(auth)}
    params = oauth_signature.collect_parameters(
        uri_query=query, body=form_body, headers={'Authorization': auth}, exclude_oauth_signature=True, with_realm=False)
    consumer_key = header_params.get('oauth_consumer_key', '')
    consumer = CONFIG.get('consumers', {}).get(consumer_key)
    if consumer is None:
        raise Refusal(401, 'consumer_key_unknown', f'unknown consumer {consumer_key}')
    method_name = header_params.get('oauth_signature_method', '')
    timestamp = int(header_params.get('oauth_timestamp', '0'))
    if abs(time.time() - timestamp) > 300:
        raise Refusal(401, 'timestamp_refused', 'timestamp outside 300 s')
    uri = request_url(handler, path)
    request = types.SimpleNamespace(params=params, uri=uri, http_method=method, signature=header_params.get('oauth_signature', ''))
    if method_name == 'RSA-SHA1' and consumer.get('rsaPublicKeyPem'):
        ok = oauth_signature.verify_rsa_sha1(request, consumer['rsaPublicKeyPem'])
    elif method_name == 'HMAC-SHA1' and consumer.get('hmacSecret') is not None:
        ok = oauth_signature.verify_hmac_sha1(request, consumer['hmacSecret'], '')
    else:
        raise Refusal(401, 'signature_method_rejected', f'{method_name} not accepted for {consumer_key}')
    base_string = oauth_signature.signature_base_string(
        method, oauth_signature.base_string_uri(uri), oauth_signature.normalize_parameters(params))
    if not ok:
        raise Refusal(401, 'signature_invalid', f'signature does not verify over {base_string}')
    nonce_key = (consumer_key, header_params.get('oauth_timestamp'), header_params.get('oauth_nonce'))
    with LOCK:
        if nonce_key in SEEN_NONCES:
            raise Refusal(401, 'nonce_used', 'nonce replayed')
        SEEN_NONCES.add(nonce_key)
    if header_params.get('oauth_token', '') != '':
        raise Refusal(401, 'token_rejected', 'this AppB issues no tokens: 2LO and 2LOi only')
    requestors = [v for k, v in params if k == 'xoauth_requestor_id']
    if len(requestors) > 1:
        raise Refusal(400, 'parameter_rejected', 'xoauth_requestor_id twice')
    if requestors:
        if not consumer.get('impersonation', False):
            raise Refusal(401, 'permission_denied', 'impersonation not allowed for this consumer')
        user = requestors[0]
    elif consumer.get('executeAs'):
        user = consumer['executeAs']
    else:
        raise Refusal(401, 'permission_denied', '2LO without a user')
    return {'scheme': 'oauth', 'verified': True, 'user': user, 'consumerKey': consumer_key, 'baseString': base_string}


def verify_header(handler, method, target):
    cfg = CONFIG['header']
    user_header = cfg.get('userHeader', 'X-Forwarded-User')
    sig = handler.headers.get('X-Applink-Gateway-Signature')
    users = header_values(handler.headers, user_header)
    if sig is None or len(users) != 1:
        raise Refusal(401, None, 'header identity incomplete', oauth=False)
    # Header values arrive as ISO-8859-1 text; the gateway sends the UTF-8 bytes of the name.
    user = users[0].encode('latin-1').decode('utf-8')
    fields = dict(part.split('=', 1) for part in sig.split(','))
    t = int(fields['t'])
    if abs(time.time() - t) > 60:
        raise Refusal(401, None, 'header signature too old', oauth=False)
    message = f'{t}\n{method}\n{target}\n'.encode('latin-1') + user.encode('utf-8')
    expected = hmac.new(cfg['secret'].encode('utf-8'), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get('v1', '')):
        raise Refusal(401, None, 'header signature invalid', oauth=False)
    return {'scheme': 'header', 'verified': True, 'user': user}


def verify_jwt(handler):
    import jwt  # PyJWT: an implementation other than the gateway's node:crypto signer
    cfg = CONFIG['jwt']
    auth = handler.headers.get('Authorization') or ''
    if not auth.startswith('Bearer '):
        raise Refusal(401, None, 'no Bearer token', oauth=False)
    token = auth[len('Bearer '):]
    try:
        claims = jwt.decode(token, cfg['publicKeyPem'], algorithms=[cfg['algorithm']], audience=cfg['audience'],
                            issuer=cfg['issuer'], options={'require': ['exp', 'iat', 'sub', 'jti']})
    except jwt.PyJWTError as e:
        raise Refusal(401, None, f'JWT refused: {e}', oauth=False)
    return {'scheme': 'jwt', 'verified': True, 'user': claims['sub'], 'claims': claims}


def identify(handler, method, target, path, query, form_body):
    """The user this request runs as, or None (anonymous); Refusal when credentials are bad."""
    auth = handler.headers.get('Authorization') or ''
    if auth.lower().startswith('oauth '):
        return verify_oauth(handler, method, path, query, form_body)
    if 'header' in CONFIG and handler.headers.get('X-Applink-Gateway-Signature') is not None:
        return verify_header(handler, method, target)
    if 'jwt' in CONFIG and auth.startswith('Bearer '):
        return verify_jwt(handler)
    return {'scheme': 'none', 'verified': False, 'user': None}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'TestAppB/1.0'

    def log_message(self, *args):
        pass

    def read_body(self):
        digest = hashlib.sha256()
        kept = bytearray()
        length = 0

        def take(chunk):
            nonlocal length
            digest.update(chunk)
            length += len(chunk)
            if len(kept) < TEXT_LIMIT * 16:
                kept.extend(chunk[:TEXT_LIMIT * 16 - len(kept)])

        te = (self.headers.get('Transfer-Encoding') or '').lower()
        if 'chunked' in te:
            while True:
                size = int(self.rfile.readline().split(b';', 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    break
                remaining = size
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        raise ConnectionError('body ended early')
                    take(chunk)
                    remaining -= len(chunk)
                self.rfile.readline()
        else:
            remaining = int(self.headers.get('Content-Length') or '0')
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    raise ConnectionError('body ended early')
                take(chunk)
                remaining -= len(chunk)
        return bytes(kept), length, digest.hexdigest()

    def send_json(self, status, payload, extra_headers=()):
        body = json.dumps(payload).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Set-Cookie', 'appb-a=1; Path=/')
        self.send_header('Set-Cookie', 'appb-b=2; Path=/')
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def handle_any(self):
        method = self.command
        target = self.path
        path, _, query = target.partition('?')
        body, length, sha = self.read_body()
        ctype = (self.headers.get('Content-Type') or '').split(';')[0].strip().lower()
        form_body = body.decode('utf-8', 'replace') if ctype == 'application/x-www-form-urlencoded' else None
        record = {
            'method': method,
            'target': target,
            'path': path,
            'query': query,
            'queryPairs': parse_qsl(query, keep_blank_values=True),
            'headers': [[k, v.encode('latin-1').decode('utf-8', 'replace')] for k, v in self.headers.items()],
            'bodyLength': length,
            'bodySha256': sha,
            'bodyText': body[:TEXT_LIMIT].decode('utf-8', 'replace') if length <= TEXT_LIMIT else None,
        }
        try:
            auth = identify(self, method, target, path, query, form_body)
        except Refusal as r:
            record['refused'] = {'status': r.status, 'problem': r.problem, 'detail': r.detail}
            print('REQUEST ' + json.dumps(record), flush=True)
            headers = []
            if r.oauth:
                realm = CONFIG.get('realm', 'http://appb.test')
                headers.append(('WWW-Authenticate', f'OAuth realm="{realm}", oauth_problem="{r.problem}"'))
            self.send_json(r.status, {'refused': r.detail, 'problem': r.problem}, headers)
            return
        record['auth'] = {k: v for k, v in auth.items() if k != 'claims'}
        record['user'] = auth['user']
        if 'claims' in auth:
            record['jwtClaims'] = auth['claims']
        print('REQUEST ' + json.dumps(record), flush=True)

        if (self.headers.get('Upgrade') or '').lower() == 'websocket':
            self.websocket(auth['user'])
            return
        if path == '/__appb/slow':
            time.sleep(int(dict(parse_qsl(query)).get('ms', '1000')) / 1000)
        if path == '/__appb/download':
            self.download(int(dict(parse_qsl(query)).get('bytes', '0')))
            return
        self.send_json(200, record)

    def download(self, size):
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        block = bytes(range(256)) * 256
        sent = 0
        while sent < size:
            part = block[:min(len(block), size - sent)]
            self.wfile.write(b'%x\r\n%s\r\n' % (len(part), part))
            sent += len(part)
        self.wfile.write(b'0\r\n\r\n')

    def websocket(self, user):
        key = self.headers.get('Sec-WebSocket-Key', '')
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode('ascii')).digest()).decode('ascii')
        self.send_response(101)
        self.send_header('Upgrade', 'websocket')
        self.send_header('Connection', 'Upgrade')
        self.send_header('Sec-WebSocket-Accept', accept)
        self.end_headers()
        self.wfile.flush()
        self.ws_send(1, json.dumps({'hello': user}).encode('utf-8'))
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                break
            opcode = head[0] & 0x0F
            masked = head[1] & 0x80
            size = head[1] & 0x7F
            if size == 126:
                size = int.from_bytes(self.rfile.read(2), 'big')
            elif size == 127:
                size = int.from_bytes(self.rfile.read(8), 'big')
            mask = self.rfile.read(4) if masked else b'\0\0\0\0'
            data = bytearray(self.rfile.read(size))
            for i in range(len(data)):
                data[i] ^= mask[i % 4]
            if opcode == 8:
                self.ws_send(8, bytes(data[:2]))
                break
            if opcode == 9:
                self.ws_send(10, bytes(data))
            elif opcode in (1, 2):
                self.ws_send(opcode, bytes(data))
        self.close_connection = True

    def ws_send(self, opcode, data):
        size = len(data)
        if size < 126:
            head = bytes([0x80 | opcode, size])
        elif size < 65536:
            head = bytes([0x80 | opcode, 126]) + size.to_bytes(2, 'big')
        else:
            head = bytes([0x80 | opcode, 127]) + size.to_bytes(8, 'big')
        self.wfile.write(head + data)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global CONFIG
    with open(sys.argv[1], encoding='utf-8') as f:
        CONFIG = json.load(f)
    server = Server(('127.0.0.1', 0), Handler)
    print(f'LISTENING {server.server_address[1]}', flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    socketserver.TCPServer.request_queue_size = 128
    main()
