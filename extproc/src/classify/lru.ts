// A bounded LRU map: a Map keeps insertion order, so the first key is the least recently used
// once every hit re-inserts its key. Memory is bounded by `size` entries of small keys and values.
export class Lru<V> {
  private readonly map = new Map<string, V>();

  constructor(readonly size: number) {}

  get length(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, value: V): void {
    if (this.size <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.size) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }
}
