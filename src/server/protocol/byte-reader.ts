// Accumulates socket chunks and hands out exactly N bytes at a time (TCP may split or merge writes).

export class ByteReader {
  private chunks: Buffer[] = [];
  private size = 0;

  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Exactly `n` bytes if that many are buffered, else undefined (nothing consumed). */
  read(n: number): Buffer | undefined {
    if (n < 0 || n > this.size) return undefined;
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.size -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.size -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    this.size -= n;
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.size = 0;
  }
}
