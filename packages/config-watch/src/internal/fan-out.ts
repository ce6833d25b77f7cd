/**
 * Delivers each published item to every subscriber registered before it was published, each through
 * its own unbounded queue, so a slow consumer delays only itself. Leaving a loop detaches only that
 * subscriber; `end()` finishes every loop (after its queued items), `fail(error)` makes them throw.
 */
export class FanOut<T> {
  readonly #subscribers = new Set<Subscriber<T>>();
  #ended = false;
  #failure: { readonly error: unknown } | undefined;

  publish(item: T): void {
    for (const subscriber of this.#subscribers) {
      subscriber.queue.push(item);
      subscriber.wake();
    }
  }

  end(): void {
    this.#ended = true;
    for (const subscriber of this.#subscribers) subscriber.wake();
  }

  fail(error: unknown): void {
    this.#failure ??= { error };
    this.end();
  }

  /** A new subscriber: it sees items published from now on. */
  subscribe(): AsyncIterableIterator<T> & AsyncDisposable {
    const subscriber: Subscriber<T> = { queue: [], wake: () => {}, left: false };
    if (!this.#ended) this.#subscribers.add(subscriber);
    const detach = () => {
      subscriber.left = true;
      this.#subscribers.delete(subscriber);
      subscriber.queue.length = 0;
    };
    const iterator: AsyncIterableIterator<T> & AsyncDisposable = {
      next: async () => {
        for (;;) {
          if (subscriber.left) return { value: undefined, done: true };
          if (subscriber.queue.length > 0) return { value: subscriber.queue.shift()!, done: false };
          if (this.#ended) {
            detach();
            if (this.#failure !== undefined) throw this.#failure.error;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            subscriber.wake = resolve;
          });
          subscriber.wake = () => {};
        }
      },
      return: async () => {
        detach();
        subscriber.wake();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
      [Symbol.asyncDispose]: async () => {
        detach();
        subscriber.wake();
      },
    };
    return iterator;
  }
}

interface Subscriber<T> {
  readonly queue: T[];
  wake: () => void;
  left: boolean;
}
