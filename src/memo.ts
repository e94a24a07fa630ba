/**
 * Caches `build(key)` for as long as `key` lives: per environment object
 * (its parsed limits, its schemas), so a request does not rebuild them and a
 * test's own environment gets its own.
 */
export function perObject<K extends object, V>(build: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, V>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = build(key);
      cache.set(key, value);
    }
    return value;
  };
}
