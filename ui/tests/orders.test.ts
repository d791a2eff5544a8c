import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { Backend, Card, ConversationSummary, OrderInfo, OrderRecord, Revision } from '../src/lib/backend';
import MessageItem from '../src/lib/components/MessageItem.svelte';
import { i18n } from '../src/lib/i18n/index.svelte';
import { boardColumns, isOverdue, nextStage, NO_FILTERS, openCards, orderErrorText, waitingFor } from '../src/lib/orders';
import { buildTimeline } from '../src/lib/timeline';
import { conversation, member, message } from './fixtures';

afterEach(cleanup);

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

function revision(id: number, side: Revision['side'], state: Revision['state']): Revision {
  return {
    message_id: id,
    seq: id,
    proposer: side === 'factory' ? 1 : 2,
    side,
    value: `value ${id}`,
    attachments: [],
    stage: 'inquiry',
    proposed_at: 0,
    answer: null,
    superseded_by: null,
    waiver: null,
    state,
  };
}

function card(item: string, ...revisions: Revision[]): Card {
  return { item, revisions };
}

function record(...cards: Card[]): OrderRecord {
  return { stage: 'inquiry', cards, stages: [], progress: [], shipments: [] };
}

function order(id: number, org: number, info: Partial<OrderInfo>): ConversationSummary {
  return {
    conversation: conversation(id, [1, 2], 'order', {
      org_id: org,
      order: { stage: 'inquiry', quantity: null, due_date: null, assignee: null, shipping: null, received_at: null, ...info },
    }),
    unread: 0,
    last_message: null,
    muted: false,
    next_deadline: null,
    chain_alarms: 0,
  };
}

describe('order logic', () => {
  it('counts a card open until its current value is approved or waived', () => {
    const r = record(
      card('colour', revision(1, 'factory', 'superseded'), revision(2, 'factory', 'approved')),
      card('zipper', revision(3, 'customer', 'proposed')),
      card('lining', revision(4, 'factory', 'rejected')),
      card('packaging', revision(5, 'factory', 'waived')),
    );
    expect(openCards(r).map((c) => c.item)).toEqual(['zipper', 'lining']);
    // The customer's zipper waits for the factory; nothing waits for the customer.
    expect(waitingFor(r, 'factory').map((c) => c.item)).toEqual(['zipper']);
    expect(waitingFor(r, 'customer')).toEqual([]);
  });

  it('moves staff forward one stage at a time and leaves done to the customer', () => {
    expect(nextStage('inquiry')).toBe('sample');
    expect(nextStage('qc_packing')).toBe('shipping');
    expect(nextStage('shipping')).toBeNull();
    expect(nextStage('done')).toBeNull();
  });

  it('puts orders in their stage column, soonest due first, and filters them', () => {
    const list = [
      order(1, 10, { stage: 'production', due_date: NOW + 20 * DAY }),
      order(2, 10, { stage: 'production', due_date: NOW - DAY }),
      order(3, 11, { stage: 'inquiry', due_date: NOW + 3 * DAY }),
      order(4, 11, { stage: 'shipping', due_date: NOW - DAY }),
    ];
    const all = boardColumns(list, new Map(), NO_FILTERS, NOW);
    expect(all.map((c) => c.stage)).toEqual(['inquiry', 'sample', 'production', 'qc_packing', 'shipping', 'done']);
    expect(all[2].orders.map((o) => o.conversation.id)).toEqual([2, 1]);
    // Overdue means late and not shipped yet.
    expect(isOverdue(list[1].conversation.order!, NOW)).toBe(true);
    expect(isOverdue(list[3].conversation.order!, NOW)).toBe(false);
    const ids = (f: Partial<typeof NO_FILTERS>, records = new Map<number, OrderRecord>()) =>
      boardColumns(list, records, { ...NO_FILTERS, ...f }, NOW).flatMap((c) => c.orders.map((o) => o.conversation.id));
    expect(ids({ overdueOnly: true })).toEqual([2]);
    expect(ids({ org: 11 })).toEqual([3, 4]);
    expect(ids({ dueWithinDays: 7 })).toEqual([3, 2, 4]);
    const waiting = new Map([[1, record(card('colour', revision(9, 'factory', 'proposed')))]]);
    expect(ids({ waitingForCustomer: true }, waiting)).toEqual([1]);
  });
});

describe('order refusals', () => {
  it('name the rule and its items in the language of the user', () => {
    i18n.set('zh-CN');
    const open = { code: 'order_rule', message: 'open confirmations …', order_rule: { rule: 'open_items' as const, items: ['zipper', '手柄长度'] } };
    expect(orderErrorText(open)).toBe('还有未确认的项目：拉链、手柄长度。请先确认或豁免');
    i18n.set('en');
    const moved = { code: 'order_rule', message: '', order_rule: { rule: 'stage_moved' as const, actual: 'sample' as const, claimed: 'inquiry' as const } };
    expect(orderErrorText(moved)).toBe('The order is in “Sample” (not “Inquiry”); try again');
    // Other errors read as before.
    expect(orderErrorText({ code: 'network', message: 'x' })).toContain('server');
  });
});

describe('cards in the chat', () => {
  const people = new Map([member(1, '王丽'), member(2, 'Somchai', 'customer', 1)].map((m) => [m.id, m]));
  const proposal = message(3, 1, {
    kind: 'confirmation_request',
    item: 'colour',
    value: 'PANTONE 18-1031 棕色',
    attachments: [],
    needs_confirmation: false,
  });
  const props = (me: number, onAnswer = vi.fn()) => ({
    item: buildTimeline([proposal])[0],
    conversation: conversation(1, [1, 2]),
    receipts: [],
    members: people,
    me,
    backend: { mediaUrl: () => '' } as unknown as Backend,
    transfer: undefined,
    onReply: () => {},
    onEdit: () => {},
    onOpen: () => {},
    onPlayVoice: () => {},
    record: record(card('colour', revision(1003, 'factory', 'proposed'))),
    onAnswer,
  });

  it('lets the other side approve a proposal in one click', async () => {
    i18n.set('zh-CN');
    const onAnswer = vi.fn();
    render(MessageItem, props(2, onAnswer));
    expect(screen.getByTestId('card-message').textContent).toContain('颜色');
    expect(screen.getByTestId('card-message').dataset.state).toBe('proposed');
    await fireEvent.click(screen.getByTestId('card-approve'));
    expect(onAnswer).toHaveBeenCalledWith(1003, true);
  });

  it('does not offer the proposer an answer to their own proposal', () => {
    render(MessageItem, props(1));
    expect(screen.queryByTestId('card-approve')).toBeNull();
  });
});
