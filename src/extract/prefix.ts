/** Chunks as one array (the chunk itself when there is one). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Where extraction reads from: the next chunk, or null at the end (or the cap). */
export interface ChunkSource {
  read(): Promise<Uint8Array | null>;
}

/**
 * A body whose first chunks were taken to decide its kind and charset: the
 * readers after that get those chunks again first, then the rest of the body.
 */
export class PrefixedBody {
  readonly #taken: Uint8Array[] = [];
  #takenBytes = 0;
  #next = 0;

  constructor(private readonly source: ChunkSource) {}

  /** Takes chunks until at least `bytes` are held (or the body ends). */
  async takeUntil(bytes: number): Promise<void> {
    while (this.#takenBytes < bytes) {
      const chunk = await this.source.read();
      if (chunk === null) return;
      this.#taken.push(chunk);
      this.#takenBytes += chunk.byteLength;
    }
  }

  /** The bytes taken so far, as one array. */
  prefix(): Uint8Array {
    return concatBytes(this.#taken);
  }

  /** The next chunk: the taken ones first, then the body's; null at its end. */
  read(): Promise<Uint8Array | null> {
    return this.#next < this.#taken.length ? Promise.resolve(this.#taken[this.#next++]!) : this.source.read();
  }
}
