// Pure OAuth 1.0a protocol (RFC 5849): no Koa, no I/O.
export * from './problem.js';
export * from './encode.js';
export * from './header.js';
export * from './params.js';
export * from './base-string.js';
export * from './signature.js';
export * from './sign.js';
export * from './callback.js';
