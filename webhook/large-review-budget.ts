/**
 * Memory for large reviews, bounded by bytes in flight instead of by count. Each review over
 * LARGE_REVIEW_BYTES holds its body about twice while it is read and handed to the parse
 * worker, and many at once could take the process past its memory limit. Valid pods can be
 * large (256 KiB of annotations is legal) and a ReplicaSet creates many at once, so a
 * review over the budget is not refused: it waits, unread (TCP holds its bytes back), until
 * earlier ones are answered. Only a review that has waited `waitMs` is answered 503, and
 * the webhook's failurePolicy decides.
 */

/** A review over this size counts against the budget. */
export const LARGE_REVIEW_BYTES = 64 * 1024;
/** Bytes of large reviews being read or parsed at once: 4 at the 7 MiB body limit, 100 of 320 KiB. */
export const LARGE_REVIEW_BUDGET_BYTES = 32 * 1024 * 1024;
/** How long a large review may wait for room; the API server's default webhook timeout is 10 s. */
export const LARGE_REVIEW_WAIT_MS = 5_000;

interface Waiter {
  bytes: number;
  admit: () => void;
}

export class LargeReviewBudget {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly budgetBytes = LARGE_REVIEW_BUDGET_BYTES,
    private readonly waitMs = LARGE_REVIEW_WAIT_MS,
  ) {}

  /** Bytes admitted and not yet released. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Reviews waiting for room. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Waits for room for `bytes` (first come, first served; at once when nothing is in flight,
   * so one review always proceeds). Resolves with the release function, or with undefined
   * after waitMs without room.
   */
  async acquire(bytes: number): Promise<(() => void) | undefined> {
    if (this.queue.length === 0 && (this.inFlight === 0 || this.inFlight + bytes <= this.budgetBytes)) return this.admit(bytes);
    return new Promise((resolve) => {
      const waiter: Waiter = { bytes, admit: () => resolve(this.admit(bytes)) };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(undefined);
        this.drain();
      }, this.waitMs);
      timer.unref();
      waiter.admit = () => {
        clearTimeout(timer);
        resolve(this.admit(bytes));
      };
      this.queue.push(waiter);
    });
  }

  private admit(bytes: number): () => void {
    this.inFlight += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= bytes;
      this.drain();
    };
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (this.inFlight > 0 && this.inFlight + next.bytes > this.budgetBytes) return;
      this.queue.shift();
      next.admit();
    }
  }
}
