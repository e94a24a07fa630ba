import { DurableObject } from 'cloudflare:workers';
import type { ShardOpener } from './engine/lanes';
import { shardLane, type ShardSocket } from './engine/shard-lane';
import { serveShard } from './engine/shard-server';
import type { Env } from './env';

/**
 * Scale-out on Durable Objects: the transport under the engine's shard lanes
 * (src/engine/lanes.ts). Each lane past the first is a fresh FetchShard, a
 * separate invocation with its own 6 header slots, CPU, memory and subrequest
 * budget, reached over a WebSocket.
 */

/**
 * One shard of a scaled-out batch. It stores nothing. The batch opens a
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

/**
 * Opens shard lanes as FetchShard objects of `namespace`, one fresh object per
 * lane. Connecting holds one of the caller's header slots until the upgrade is
 * answered.
 */
export function durableShards(namespace: DurableObjectNamespace): ShardOpener {
  return (options, capacity, headerGate) => {
    const connect = async (): Promise<ShardSocket> => {
      const release = await headerGate.acquire();
      try {
        const stub = namespace.get(namespace.newUniqueId());
        const response = await stub.fetch('https://shard.fanout.internal/', { headers: { upgrade: 'websocket' } });
        const socket = response.webSocket;
        if (response.status !== 101 || !socket) {
          await response.body?.cancel().catch(() => {});
          throw new Error(`shard answered ${response.status} instead of a WebSocket`);
        }
        socket.accept();
        return socket;
      } finally {
        release();
      }
    };
    return shardLane(connect(), options, capacity);
  };
}
