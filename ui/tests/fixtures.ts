// Small builders for test data, shaped exactly like the generated bindings.
import type { Conversation, LocalMessage, Member, MessageBody, Receipt } from '../src/lib/backend';

export function member(id: number, name: string, role: Member['role'] = 'staff', org: number | null = null): Member {
  return { id, username: name.toLowerCase(), display_name: name, role, org_id: org };
}

export function conversation(id: number, members: number[], kind: Conversation['kind'] = 'order', extra: Partial<Conversation> = {}): Conversation {
  return {
    id,
    kind,
    title: `Order ${id}`,
    org_id: kind === 'order' ? 1 : null,
    order_number: kind === 'order' ? `TB-${id}` : null,
    members,
    last_seq: 0,
    created_at: 0,
    ...extra,
  };
}

let localId = 0;
export function message(seq: number | null, sender: number, body: MessageBody | string, extra: Partial<LocalMessage> = {}): LocalMessage {
  localId += 1;
  return {
    local_id: extra.local_id ?? localId,
    id: seq === null ? null : 1000 + seq,
    conversation_id: 1,
    seq,
    sender_id: sender,
    txn_id: `txn-${localId}`,
    body: typeof body === 'string' ? { kind: 'text', text: body } : body,
    created_at: 1_700_000_000_000,
    sent_at: seq === null ? null : 1_700_000_000_000,
    state: seq === null ? 'pending' : 'sent',
    error: null,
    ...extra,
  };
}

export function receipt(member: number, delivered: number, read: number): Receipt {
  return { conversation_id: 1, member_id: member, delivered_up_to: delivered, read_up_to: read, updated_at: 0 };
}
