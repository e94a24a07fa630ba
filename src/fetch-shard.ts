import { DurableObject } from 'cloudflare:workers';
import { serveShard } from './engine/shard-server';
import type { Env } from './env';

/**
 * One shard of a scaled-out batch (src/engine/lanes.ts), opened by
 * src/durable-shards.ts: a separate invocation with its own 6 header slots,
 * CPU, memory and subrequest budget. It stores nothing. The batch opens a
 * WebSocket to it, sends URLs as it has room, and gets each result back;
 * closing the socket cancels whatever is still in flight. It is reachable only
 * through the SHARDS binding, never from the Internet.
 */
export class FetchShard extends DurableObject<Env> {
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('fanout shard: expected a WebSocket upgrade', { status: 426 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    // accept(), not the hibernation API: the object is busy for as long as the batch runs.
    server.accept();
    serveShard(server);
    return new Response(null, { status: 101, webSocket: client });
  }
}
