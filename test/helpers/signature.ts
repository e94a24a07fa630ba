/**
 * The notification signature, computed here with Web Crypto rather than with
 * the code under test (src/watch/notify.ts), so a wrong signature cannot check itself.
 */

/** Hex HMAC-SHA256 of `body` with `secret`. */
export async function hmacHex(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The `X-Fanout-Signature` value a receiver holding `secret` expects for `body`. */
export async function signatureFor(secret: string, body: string): Promise<string> {
  return `sha256=${await hmacHex(secret, body)}`;
}
