import type { Env } from './env';
import { ConfigError } from './errors';
import { perObject } from './memo';

/**
 * The API's clients: who may call `/v1/*`, by bearer token, each with a name
 * (the only thing logs ever show of it) and an optional rate limit. They come
 * from the secret API_TOKENS (a JSON list), and API_TOKEN is one more client
 * named `default` with no limit of its own.
 */
export interface ApiClient {
  name: string;
  token: string;
  /** Requests per minute (a token bucket holding one minute's worth); null: no limit. */
  ratePerMinute: number | null;
}

const NAME = /^[\w.-]{1,64}$/;
/** Shorter tokens are too easy to guess for a secret that opens the API. */
const MIN_TOKEN_LENGTH = 16;

/** The deployment's clients; throws ConfigError naming API_TOKENS (never a token) when it is malformed. */
export const clientsFromEnv = perObject((env: Env): ApiClient[] => {
  const clients: ApiClient[] = [];
  const raw = env.API_TOKENS?.trim();
  if (raw) {
    let list: unknown;
    try {
      list = JSON.parse(raw);
    } catch {
      throw new ConfigError('Expected API_TOKENS to be a JSON list of { "name", "token", "ratePerMinute" }, got text that is not JSON');
    }
    if (!Array.isArray(list)) throw new ConfigError('Expected API_TOKENS to be a JSON list of { "name", "token", "ratePerMinute" }');
    list.forEach((entry: unknown, i) => clients.push(client(entry, i)));
  }
  if (env.API_TOKEN) clients.push({ name: 'default', token: env.API_TOKEN, ratePerMinute: null });
  const names = new Set(clients.map((c) => c.name));
  const tokens = new Set(clients.map((c) => c.token));
  if (names.size !== clients.length) throw new ConfigError('Expected every client name in API_TOKENS (and "default" for API_TOKEN) to be unique');
  if (tokens.size !== clients.length) throw new ConfigError('Expected every token in API_TOKENS and API_TOKEN to be unique');
  return clients;
});

function client(entry: unknown, i: number): ApiClient {
  const at = `API_TOKENS[${i}]`;
  if (typeof entry !== 'object' || entry === null) throw new ConfigError(`Expected ${at} to be an object { "name", "token", "ratePerMinute" }`);
  const { name, token, ratePerMinute } = entry as Record<string, unknown>;
  if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError(`Expected ${at}.name to be 1-64 letters, digits, '.', '_' or '-'`);
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) throw new ConfigError(`Expected ${at}.token (client ${name}) to be a string of at least ${MIN_TOKEN_LENGTH} characters`);
  if (ratePerMinute !== undefined && ratePerMinute !== null && (!Number.isSafeInteger(ratePerMinute) || (ratePerMinute as number) < 1)) {
    throw new ConfigError(`Expected ${at}.ratePerMinute (client ${name}) to be an integer >= 1, or left out`);
  }
  return { name, token, ratePerMinute: (ratePerMinute as number | undefined) ?? null };
}

/** SHA-256 of a token, so tokens of any length compare in constant time. */
async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
}

/** The client a presented token belongs to, compared with every client's token in constant time; null when none. */
export async function clientFor(clients: readonly ApiClient[], presented: string): Promise<ApiClient | null> {
  const given = await digest(presented);
  let found: ApiClient | null = null;
  for (const candidate of clients) {
    // Every client is compared (no early exit), so the time does not tell which one matched.
    if (crypto.subtle.timingSafeEqual(given, await digest(candidate.token))) found ??= candidate;
  }
  return found;
}
