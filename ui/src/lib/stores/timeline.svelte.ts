// One open conversation: its loaded pages, receipts and the derived bubbles. Opening
// loads only the newest page, so a 10,000-message thread opens as fast as a short one;
// older pages load as the user scrolls up.
import type { Backend, Conversation, LocalMessage, Receipt } from '../backend';
import { buildTimeline, maxSeq, mergeNewest, type TimelineItem } from '../timeline';

export const PAGE = 60;

export class Timeline {
  messages: LocalMessage[] = $state([]);
  receipts: Receipt[] = $state([]);
  reachedStart = $state(false);
  loadingOlder = $state(false);
  loaded = $state(false);
  conversation: Conversation = $state() as Conversation;
  private markedUpTo = 0;

  constructor(
    private backend: Backend,
    conversation: Conversation,
    readonly me: number,
  ) {
    this.conversation = conversation;
  }

  get items(): TimelineItem[] {
    return buildTimeline(this.messages);
  }

  async load() {
    const [page, receipts] = await Promise.all([
      this.backend.messages(this.conversation.id, null, PAGE),
      this.backend.receipts(this.conversation.id),
    ]);
    this.messages = page;
    this.receipts = receipts;
    this.reachedStart = page.length < PAGE;
    this.loaded = true;
  }

  /** Loads the page before the oldest loaded message. Returns how many arrived. */
  async loadOlder(): Promise<number> {
    if (this.loadingOlder || this.reachedStart || this.messages.length === 0) return 0;
    this.loadingOlder = true;
    try {
      const older = await this.backend.messages(this.conversation.id, this.messages[0].local_id, PAGE);
      this.messages = [...older, ...this.messages];
      if (older.length < PAGE) this.reachedStart = true;
      return older.length;
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Re-reads the newest page after a change, keeping older loaded pages. */
  async refresh() {
    const fresh = await this.backend.messages(this.conversation.id, null, PAGE);
    const merged = mergeNewest(this.messages, fresh, PAGE);
    this.messages = merged.messages;
    if (merged.gap) this.reachedStart = false;
    else if (fresh.length < PAGE) this.reachedStart = true;
  }

  async reloadReceipts() {
    this.receipts = await this.backend.receipts(this.conversation.id);
  }

  /**
   * Reports that messages up to `seq` are on screen in the focused window. Only new
   * positions are sent.
   */
  async markRead(seq: number) {
    if (seq <= this.markedUpTo) return;
    this.markedUpTo = seq;
    try {
      await this.backend.markRead(this.conversation.id, seq);
    } catch {
      // Not focused after all: try again next time it is.
      this.markedUpTo = 0;
    }
  }

  /**
   * Loads older pages until the message with `seq` is loaded (or the start is reached).
   * Returns whether it is loaded.
   */
  async loadUntil(seq: number): Promise<boolean> {
    const has = () => this.messages.some((m) => m.seq !== null && m.seq <= seq);
    while (!has() && !this.reachedStart) {
      if ((await this.loadOlder()) === 0 && !this.reachedStart) break;
    }
    return this.messages.some((m) => m.seq === seq);
  }

  get newestSeq(): number {
    return maxSeq(this.messages);
  }
}
