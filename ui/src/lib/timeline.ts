// Pure timeline logic: how raw messages become what the conversation view shows, and
// where each of my messages stands. No IO; unit-tested in tests/timeline.test.ts.
import type { Conversation, LocalMessage, Member, MessageBody, Receipt } from './backend';

/** One bubble: a message with its edits and recall folded in. */
export interface TimelineItem {
  message: LocalMessage;
  /** The text shown now (the latest edit's), for text messages. */
  text: string | null;
  /** Earlier versions, oldest first, when edited. */
  history: string[];
  recalled: boolean;
  replyTo: LocalMessage | null;
}

export function bodyText(body: MessageBody): string | null {
  if (body.kind === 'text') return body.text;
  if (body.kind === 'annotation') return body.comment;
  return null;
}

/**
 * Folds edits and recalls into the messages they target. Edits and recalls are messages
 * of their own (the original is never changed), so the view keeps the history.
 */
export function buildTimeline(messages: LocalMessage[]): TimelineItem[] {
  const byId = new Map<number, LocalMessage>();
  for (const m of messages) if (m.id !== null) byId.set(m.id, m);
  const edits = new Map<number, string[]>();
  const recalled = new Set<number>();
  for (const m of messages) {
    if (m.body.kind === 'edit') {
      const list = edits.get(m.body.target) ?? [];
      list.push(m.body.text);
      edits.set(m.body.target, list);
    } else if (m.body.kind === 'recall') {
      recalled.add(m.body.target);
    }
  }
  const items: TimelineItem[] = [];
  for (const m of messages) {
    if (m.body.kind === 'edit' || m.body.kind === 'recall') continue;
    const original = bodyText(m.body);
    const versions = m.id !== null ? edits.get(m.id) ?? [] : [];
    const history = versions.length > 0 && original !== null ? [original, ...versions.slice(0, -1)] : [];
    const replyId = m.body.kind === 'text' ? m.body.reply_to ?? null : null;
    items.push({
      message: m,
      text: versions.length > 0 ? versions[versions.length - 1] : original,
      history,
      recalled: m.id !== null && recalled.has(m.id),
      replyTo: replyId !== null ? byId.get(replyId) ?? null : null,
    });
  }
  return items;
}

export type Delivery =
  | { state: 'pending' }
  | { state: 'failed'; error: string | null }
  | { state: 'sent' }
  | { state: 'delivered' }
  | { state: 'read' }
  | { state: 'partly_read'; readers: Member[]; unread: Member[] };

/** Where one of my messages stands, from the other members' receipts. */
export function delivery(
  message: LocalMessage,
  conversation: Conversation,
  receipts: Receipt[],
  members: Map<number, Member>,
  me: number,
): Delivery {
  if (message.state === 'pending') return { state: 'pending' };
  if (message.state === 'failed') return { state: 'failed', error: message.error };
  const seq = message.seq ?? Number.MAX_SAFE_INTEGER;
  const others = conversation.members.filter((id) => id !== me);
  if (others.length === 0) return { state: 'sent' };
  const receiptOf = new Map(receipts.map((r) => [r.member_id, r]));
  const readers = others.filter((id) => (receiptOf.get(id)?.read_up_to ?? 0) >= seq);
  const delivered = others.filter((id) => (receiptOf.get(id)?.delivered_up_to ?? 0) >= seq);
  if (readers.length === others.length) return { state: 'read' };
  if (conversation.kind !== 'direct' && readers.length > 0) {
    const member = (id: number): Member =>
      members.get(id) ?? { id, username: `#${id}`, display_name: `#${id}`, role: 'staff', org_id: null };
    return {
      state: 'partly_read',
      readers: readers.map(member),
      unread: others.filter((id) => !readers.includes(id)).map(member),
    };
  }
  if (delivered.length === others.length) return { state: 'delivered' };
  return { state: 'sent' };
}

/** Merges a fresh newest page into what is loaded, keeping older pages. */
export function mergeNewest(loaded: LocalMessage[], fresh: LocalMessage[], pageSize: number): {
  messages: LocalMessage[];
  gap: boolean;
} {
  if (fresh.length === 0) return { messages: [], gap: false };
  const at = loaded.findIndex((m) => m.local_id === fresh[0].local_id);
  if (at >= 0) return { messages: [...loaded.slice(0, at), ...fresh], gap: false };
  if (fresh.length < pageSize) return { messages: fresh, gap: false };
  // More new messages than a page: what was loaded is no longer contiguous with them.
  return { messages: fresh, gap: true };
}

/** The highest confirmed seq among messages, or 0. */
export function maxSeq(messages: LocalMessage[]): number {
  let max = 0;
  for (const m of messages) if (m.seq !== null && m.seq > max) max = m.seq;
  return max;
}

/** Splits text into plain runs and @mentions of the given names. */
export function mentionSegments(text: string, pattern: RegExp | null): { text: string; mention: boolean }[] {
  if (!pattern) return [{ text, mention: false }];
  const parts: { text: string; mention: boolean }[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const at = match.index ?? 0;
    if (at > last) parts.push({ text: text.slice(last, at), mention: false });
    parts.push({ text: match[0], mention: true });
    last = at + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), mention: false });
  return parts;
}

/** One pattern matching `@Name` for every member name (longest first), or `null`. */
export function mentionPattern(names: string[]): RegExp | null {
  const escaped = names
    .filter((n) => n.length > 0)
    .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .sort((a, b) => b.length - a.length);
  return escaped.length > 0 ? new RegExp(`@(?:${escaped.join('|')})`, 'g') : null;
}

/** How close a deadline is, for how prominently it is shown. */
export type DeadlineUrgency = 'upcoming' | 'due_soon' | 'passed';

export const DUE_SOON_MS = 60 * 60 * 1000;

export function deadlineUrgency(deadline: number, now: number): DeadlineUrgency {
  if (deadline <= now) return 'passed';
  return deadline - now <= DUE_SOON_MS ? 'due_soon' : 'upcoming';
}

/** The time a message must be read by, if its sender set one. */
export function deadlineOf(body: MessageBody): number | null {
  return body.kind === 'text' || body.kind === 'confirmation_request' ? body.deadline ?? null : null;
}

/** Messages from others whose deadline has not passed, soonest first: the banner. */
export function upcomingDeadlines(items: TimelineItem[], me: number, now: number): TimelineItem[] {
  return items
    .filter((i) => {
      const d = deadlineOf(i.message.body);
      return !i.recalled && i.message.sender_id !== me && d !== null && d > now;
    })
    .sort((a, b) => (deadlineOf(a.message.body) ?? 0) - (deadlineOf(b.message.body) ?? 0));
}

/** Quick deadline choices for the composer, in local time. */
export function deadlinePresets(now: number): { key: 'in1h' | 'today18' | 'tomorrow10' | 'tomorrow18'; at: number }[] {
  const at = (daysAhead: number, hour: number) => {
    const d = new Date(now);
    d.setDate(d.getDate() + daysAhead);
    d.setHours(hour, 0, 0, 0);
    return d.getTime();
  };
  const presets: { key: 'in1h' | 'today18' | 'tomorrow10' | 'tomorrow18'; at: number }[] = [
    { key: 'in1h', at: now + 60 * 60 * 1000 },
  ];
  // "Today 18:00" only while there is at least an hour left.
  if (at(0, 18) - now >= 60 * 60 * 1000) presets.push({ key: 'today18', at: at(0, 18) });
  presets.push({ key: 'tomorrow10', at: at(1, 10) }, { key: 'tomorrow18', at: at(1, 18) });
  return presets;
}
