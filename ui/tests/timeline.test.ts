import { describe, expect, it } from 'vitest';

import {
  buildTimeline,
  deadlinePresets,
  deadlineUrgency,
  delivery,
  maxSeq,
  mergeNewest,
  upcomingDeadlines,
} from '../src/lib/timeline';
import { conversation, member, message, receipt } from './fixtures';

const wang = member(1, '王丽');
const alice = member(2, 'Alice', 'customer', 1);
const chen = member(3, '陈刚');
const members = new Map([wang, alice, chen].map((m) => [m.id, m]));

describe('buildTimeline', () => {
  it('folds edits into the original and keeps the earlier versions as history', () => {
    const original = message(1, 1, 'YKK 拉链');
    const edit = message(2, 1, { kind: 'edit', target: original.id!, text: 'YKK 5号拉链' });
    const items = buildTimeline([original, edit]);
    expect(items).toHaveLength(1);
    expect(items[0].text).toBe('YKK 5号拉链');
    expect(items[0].history).toEqual(['YKK 拉链']);
  });

  it('marks a recalled message but keeps its content', () => {
    const original = message(1, 1, '报价 $8.50');
    const recall = message(2, 1, { kind: 'recall', target: original.id! });
    const [item] = buildTimeline([original, recall]);
    expect(item.recalled).toBe(true);
    expect(item.text).toBe('报价 $8.50');
  });

  it('links a reply to the message it quotes when that message is loaded', () => {
    const question = message(1, 2, 'Copper or alloy?');
    const answer = message(2, 1, { kind: 'text', text: '铜的 copper', reply_to: question.id! });
    const items = buildTimeline([question, answer]);
    expect(items[1].replyTo?.local_id).toBe(question.local_id);
  });
});

describe('delivery', () => {
  const direct = conversation(1, [1, 2], 'direct');
  const group = conversation(1, [1, 2, 3], 'order');

  it('shows pending and failed own messages as such', () => {
    expect(delivery(message(null, 1, 'hi'), direct, [], members, 1).state).toBe('pending');
    const failed = message(null, 1, 'hi', { state: 'failed', error: 'too large' });
    expect(delivery(failed, direct, [], members, 1)).toEqual({ state: 'failed', error: 'too large' });
  });

  it('moves from sent to delivered to read in a direct conversation', () => {
    const m = message(5, 1, 'hi');
    expect(delivery(m, direct, [receipt(2, 4, 0)], members, 1).state).toBe('sent');
    expect(delivery(m, direct, [receipt(2, 5, 0)], members, 1).state).toBe('delivered');
    expect(delivery(m, direct, [receipt(2, 5, 5)], members, 1).state).toBe('read');
  });

  it('lists who has read and who has not in a group', () => {
    const m = message(7, 1, '请确认报价');
    const d = delivery(m, group, [receipt(2, 7, 7), receipt(3, 7, 6)], members, 1);
    expect(d.state).toBe('partly_read');
    if (d.state !== 'partly_read') throw new Error('unreachable');
    expect(d.readers.map((r) => r.display_name)).toEqual(['Alice']);
    expect(d.unread.map((r) => r.display_name)).toEqual(['陈刚']);
  });

  it('does not count delivery as reading', () => {
    const m = message(3, 1, 'hi');
    expect(delivery(m, group, [receipt(2, 3, 0), receipt(3, 3, 0)], members, 1).state).toBe('delivered');
  });
});

describe('mergeNewest', () => {
  it('keeps older loaded pages when the newest page overlaps them', () => {
    const loaded = [1, 2, 3, 4].map((s) => message(s, 2, `m${s}`));
    const fresh = [loaded[2], loaded[3], message(5, 2, 'm5')];
    const merged = mergeNewest(loaded, fresh, 3);
    expect(merged.gap).toBe(false);
    expect(merged.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('reports a gap when more than a page arrived at once', () => {
    const loaded = [1, 2].map((s) => message(s, 2, `m${s}`));
    const fresh = [10, 11, 12].map((s) => message(s, 2, `m${s}`));
    expect(mergeNewest(loaded, fresh, 3).gap).toBe(true);
  });

  it('finds the newest confirmed seq', () => {
    expect(maxSeq([message(4, 1, 'a'), message(null, 1, 'b'), message(2, 1, 'c')])).toBe(4);
  });
});

describe('mentions', () => {
  it('marks @names of members, longest name first, and leaves other @ alone', async () => {
    const { mentionPattern, mentionSegments } = await import('../src/lib/timeline');
    const pattern = mentionPattern(['王丽', 'Alice', 'Alice Moore (Acme)']);
    expect(mentionSegments('@Alice Moore (Acme) 请看 @王丽 和 @nobody', pattern)).toEqual([
      { text: '@Alice Moore (Acme)', mention: true },
      { text: ' 请看 ', mention: false },
      { text: '@王丽', mention: true },
      { text: ' 和 @nobody', mention: false },
    ]);
    expect(mentionSegments('no mentions', null)).toEqual([{ text: 'no mentions', mention: false }]);
  });
});

describe('deadlines', () => {
  const HOUR = 3_600_000;
  const withDeadline = (seq: number, sender: number, deadline: number) =>
    message(seq, sender, { kind: 'text', text: `quote ${seq}`, deadline });

  it('are due soon within the hour and passed after', () => {
    expect(deadlineUrgency(10 * HOUR, 7 * HOUR)).toBe('upcoming');
    expect(deadlineUrgency(10 * HOUR, 9.5 * HOUR)).toBe('due_soon');
    expect(deadlineUrgency(10 * HOUR, 10 * HOUR)).toBe('passed');
  });

  it('the banner lists others\' deadlines still ahead, soonest first', () => {
    const items = buildTimeline([
      withDeadline(1, 2, 5 * HOUR),
      withDeadline(2, 2, 3 * HOUR),
      withDeadline(3, 1, 2 * HOUR), // mine
      withDeadline(4, 2, 1 * HOUR), // passed
      message(5, 2, 'no deadline'),
    ]);
    expect(upcomingDeadlines(items, 1, 2 * HOUR).map((i) => i.message.seq)).toEqual([2, 1]);
  });

  it('presets offer today 18:00 only while an hour is left', () => {
    const morning = new Date(2026, 11, 1, 9, 0).getTime();
    const evening = new Date(2026, 11, 1, 17, 30).getTime();
    expect(deadlinePresets(morning).map((p) => p.key)).toEqual(['in1h', 'today18', 'tomorrow10', 'tomorrow18']);
    expect(deadlinePresets(evening).map((p) => p.key)).toEqual(['in1h', 'tomorrow10', 'tomorrow18']);
    const tomorrow10 = new Date(deadlinePresets(evening)[1].at);
    expect([tomorrow10.getDate(), tomorrow10.getHours()]).toEqual([2, 10]);
  });
});
