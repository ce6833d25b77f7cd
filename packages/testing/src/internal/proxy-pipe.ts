import type { Socket } from 'node:net';

/** The fault mode a proxy applies, shared by all its pipes and changed by its controls. */
export interface ProxyMode {
  /** Hold every byte in both directions (sockets stay open). */
  blackholed: boolean;
  /** Hold each shaped chunk this long after it arrived, in milliseconds (0: none). */
  delayMs: number;
  /** Bandwidth of each shaped pipe, bytes per second (Infinity: unlimited). */
  bytesPerSecond: number;
}

// Past this many held bytes the source is paused, so a long blackhole or a slow throttle pushes back on the
// sender the way a full TCP receive window would, instead of buffering without bound.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/**
 * One direction of a proxied connection: a FIFO of chunks read from `source`, written to `destination`
 * only as the proxy's mode allows. Bytes always leave in the order they arrived; the source's end (FIN)
 * is forwarded only after every byte before it.
 */
export class ProxyPipe {
  readonly #source: Socket;
  readonly #destination: Socket;
  readonly #mode: ProxyMode;
  readonly #shaped: boolean;
  readonly #onForwarded: (bytes: number) => void;
  readonly #queue: { chunk: Buffer; arrivedAt: number }[] = [];
  #queuedBytes = 0;
  #sourceEnded = false;
  #endForwarded = false;
  #pausedSource = false;
  #awaitingDrain = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #tokens = 0;
  #refilledAt = performance.now();

  /** `shaped` pipes (server to client) are subject to delay and throttle; all pipes to blackhole. */
  constructor(
    source: Socket,
    destination: Socket,
    mode: ProxyMode,
    shaped: boolean,
    onForwarded: (n: number) => void,
  ) {
    this.#source = source;
    this.#destination = destination;
    this.#mode = mode;
    this.#shaped = shaped;
    this.#onForwarded = onForwarded;
    source.on('data', (chunk: Buffer) => this.#push(chunk));
    source.on('end', () => this.endSource());
  }

  /** Forwards the source's end once every byte before it has been written. Idempotent. */
  endSource(): void {
    this.#sourceEnded = true;
    this.pump();
  }

  /** Starts a new bandwidth budget, empty, so a throttle takes effect from the moment it is set. */
  resetBudget(): void {
    this.#tokens = 0;
    this.#refilledAt = performance.now();
  }

  /** Drops everything held and stops forwarding. */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    clearTimeout(this.#timer);
  }

  /** Writes as much as the current mode allows, and schedules itself for the rest. */
  pump(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#destination.destroyed) {
      this.close();
      return;
    }
    while (this.#queue.length > 0) {
      if (this.#mode.blackholed || this.#awaitingDrain) return;
      if (this.#destination.writableNeedDrain) {
        this.#awaitingDrain = true;
        this.#destination.once('drain', () => {
          this.#awaitingDrain = false;
          this.pump();
        });
        return;
      }
      const head = this.#queue[0]!;
      if (this.#shaped && this.#mode.delayMs > 0) {
        const wait = head.arrivedAt + this.#mode.delayMs - performance.now();
        if (wait > 0) {
          this.#schedule(wait);
          return;
        }
      }
      let size = head.chunk.length;
      if (this.#shaped && Number.isFinite(this.#mode.bytesPerSecond)) {
        const rate = this.#mode.bytesPerSecond;
        const burst = Math.max(1, Math.floor(rate / 20));
        const now = performance.now();
        this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) * rate) / 1_000);
        this.#refilledAt = now;
        const wanted = Math.min(size, burst);
        if (this.#tokens < wanted) {
          this.#schedule(((wanted - this.#tokens) * 1_000) / rate);
          return;
        }
        size = Math.min(size, Math.floor(this.#tokens));
        this.#tokens -= size;
      }
      const piece = head.chunk.subarray(0, size);
      if (size === head.chunk.length) this.#queue.shift();
      else head.chunk = head.chunk.subarray(size);
      this.#queuedBytes -= size;
      this.#destination.write(piece);
      this.#onForwarded(size);
      if (this.#pausedSource && this.#queuedBytes <= LOW_WATER) {
        this.#pausedSource = false;
        this.#source.resume();
      }
    }
    if (this.#sourceEnded && !this.#endForwarded && !this.#mode.blackholed) {
      this.#endForwarded = true;
      this.#destination.end();
    }
  }

  #push(chunk: Buffer): void {
    if (this.#closed) return;
    this.#queue.push({ chunk, arrivedAt: performance.now() });
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes > HIGH_WATER && !this.#pausedSource) {
      this.#pausedSource = true;
      this.#source.pause();
    }
    // A chunk behind held ones must wait its turn; pumping now would only re-check the head.
    if (this.#timer === undefined && !this.#awaitingDrain) this.pump();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(ms)));
  }
}
