import type { ShardOpener } from './engine/lanes';
import { shardLane, type ShardSocket } from './engine/shard-lane';

/**
 * Scale-out on Durable Objects: the transport under the engine's shard lanes
 * (src/engine/lanes.ts). Each lane past the first is a fresh FetchShard
 * (src/fetch-shard.ts), reached over a WebSocket.
 */

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
