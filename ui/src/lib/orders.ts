// Pure view logic for orders: stages, the spec sheet's standard items, what an order
// waits for, and the order board's columns and filters. No IO; the record itself is
// folded in Rust (`protocol::order`) and arrives through `Backend.orderRecord`.
import type { Card, ConversationSummary, OrderInfo, OrderRecord, Side, Stage, UiError } from './backend';
import { errorText, t } from './i18n/index.svelte';

export const STAGES: Stage[] = ['inquiry', 'sample', 'production', 'qc_packing', 'shipping', 'done'];

/** The spec sheet's standard items (keys translated under `order.items.*`). */
export const SPEC_ITEMS = [
  'material',
  'colour',
  'hardware',
  'zipper',
  'stitching',
  'lining',
  'size',
  'interior',
  'logo',
  'packaging',
  'delivery_date',
  'shipping_method',
] as const;

/** The key two proposals share when they are about the same item (as in Rust's `item_key`). */
export function itemKey(item: string): string {
  return item.trim().toLowerCase();
}

/** Whether an item is one of the standard ones (then its name is translated). */
export function isStandardItem(item: string): boolean {
  return (SPEC_ITEMS as readonly string[]).includes(itemKey(item));
}

/** An item's name for people: standard items translated, free-form ones as written. */
export function itemLabel(item: string): string {
  return isStandardItem(item) ? t(`order.items.${itemKey(item)}`) : item;
}

/** The stage after this one, if staff can move there (done is the customer's receipt). */
export function nextStage(stage: Stage): Stage | null {
  const i = STAGES.indexOf(stage);
  return i >= 0 && i < STAGES.length - 2 ? STAGES[i + 1] : null;
}

export function stageIndex(stage: Stage): number {
  return STAGES.indexOf(stage);
}

export function currentRevision(card: Card) {
  return card.revisions[card.revisions.length - 1];
}

/** Cards not yet agreed: their current value is proposed or rejected. */
export function openCards(record: OrderRecord): Card[] {
  return record.cards.filter((c) => {
    const state = currentRevision(c)?.state;
    return state === 'proposed' || state === 'rejected';
  });
}

/** Proposals waiting for an answer from `side` (made by the other side). */
export function waitingFor(record: OrderRecord, side: Side): Card[] {
  return record.cards.filter((c) => {
    const r = currentRevision(c);
    return r?.state === 'proposed' && r.side !== side;
  });
}

/** The order's side for a member role. */
export function sideOf(role: string): Side {
  return role === 'customer' ? 'customer' : 'factory';
}

/** Past its due date and not shipped yet. */
export function isOverdue(info: OrderInfo, now: number): boolean {
  return info.due_date !== null && info.due_date < now && stageIndex(info.stage) < stageIndex('shipping');
}

export interface BoardFilters {
  /** Customer organisation id, or null for all. */
  org: number | null;
  /** Only orders due within this many days (overdue ones included), or null for all. */
  dueWithinDays: number | null;
  overdueOnly: boolean;
  waitingForCustomer: boolean;
}

export const NO_FILTERS: BoardFilters = { org: null, dueWithinDays: null, overdueOnly: false, waitingForCustomer: false };

export interface BoardColumn {
  stage: Stage;
  orders: ConversationSummary[];
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The order board: one column per stage, orders soonest-due first (undated last).
 * `records` holds the order records loaded so far; an order whose record is not
 * loaded yet is not counted as waiting for the customer.
 */
export function boardColumns(
  summaries: ConversationSummary[],
  records: Map<number, OrderRecord>,
  filters: BoardFilters,
  now: number,
): BoardColumn[] {
  const orders = summaries.filter((s) => {
    const info = s.conversation.order;
    if (s.conversation.kind !== 'order' || !info) return false;
    if (filters.org !== null && s.conversation.org_id !== filters.org) return false;
    if (filters.overdueOnly && !isOverdue(info, now)) return false;
    if (filters.dueWithinDays !== null && (info.due_date === null || info.due_date > now + filters.dueWithinDays * DAY)) {
      return false;
    }
    if (filters.waitingForCustomer) {
      const record = records.get(s.conversation.id);
      if (!record || waitingFor(record, 'customer').length === 0) return false;
    }
    return true;
  });
  const due = (s: ConversationSummary) => s.conversation.order?.due_date ?? Number.MAX_SAFE_INTEGER;
  return STAGES.map((stage) => ({
    stage,
    orders: orders.filter((s) => s.conversation.order?.stage === stage).sort((a, b) => due(a) - due(b)),
  }));
}

/** An error as the user reads it: an order rule in their language, anything else as usual. */
export function orderErrorText(error: UiError): string {
  const rule = error.order_rule;
  if (!rule) return errorText(error);
  const stage = (s: Stage) => t(`order.stages.${s}`);
  const params: Record<string, string> = {};
  if ('item' in rule) params.item = itemLabel(rule.item);
  if ('items' in rule) params.items = rule.items.map(itemLabel).join('、');
  if ('stage' in rule) params.stage = stage(rule.stage);
  if ('actual' in rule) {
    params.actual = stage(rule.actual);
    params.claimed = stage(rule.claimed);
  }
  return t(`order.rules.${rule.rule}`, params);
}
