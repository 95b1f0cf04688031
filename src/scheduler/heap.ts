/**
 * A binary heap whose top is the best element by `better`. The placement loop
 * only ever changes the top node (it places there), so `updateTop` re-sinks it
 * in O(log n) instead of re-sorting every node per alloc.
 */
export class Heap<T> {
  private readonly items: T[];

  constructor(
    items: Iterable<T>,
    private readonly cmp: (a: T, b: T) => number,
  ) {
    this.items = [...items];
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.sink(i);
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  pop(): T | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last !== undefined) {
      this.items[0] = last;
      this.sink(0);
    }
    return top;
  }

  /** Call after the top element's rank changed. */
  updateTop(): void {
    if (this.items.length > 0) this.sink(0);
  }

  private sink(i: number): void {
    const a = this.items;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.cmp(a[l], a[best]) < 0) best = l;
      if (r < n && this.cmp(a[r], a[best]) < 0) best = r;
      if (best === i) return;
      [a[i], a[best]] = [a[best], a[i]];
      i = best;
    }
  }
}
