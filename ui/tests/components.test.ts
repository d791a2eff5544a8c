import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { Backend } from '../src/lib/backend';
import Composer from '../src/lib/components/Composer.svelte';
import MessageItem from '../src/lib/components/MessageItem.svelte';
import { i18n } from '../src/lib/i18n/index.svelte';
import { buildTimeline } from '../src/lib/timeline';
import { conversation, member, message, receipt } from './fixtures';

afterEach(cleanup);

const people = new Map([member(1, '王丽'), member(2, 'Alice', 'customer', 1), member(3, '陈刚')].map((m) => [m.id, m]));

function backend(overrides: Partial<Backend> = {}): Backend {
  return { mediaUrl: (s: string, h: string) => `satchel://localhost/${s}/${h}`, ...overrides } as Backend;
}

describe('MessageItem', () => {
  it('shows how many have not read my message in a group, who read it when, and who has not', async () => {
    i18n.set('zh-CN');
    const [item] = buildTimeline([message(4, 1, '请确认报价，明天十点前')]);
    const readAt = new Date(2026, 11, 1, 9, 41).getTime();
    const readStates = vi.fn(async () => [
      { member_id: 2, delivered: true, read_at: readAt },
      { member_id: 3, delivered: true, read_at: null },
    ]);
    render(MessageItem, {
      item,
      conversation: conversation(1, [1, 2, 3]),
      receipts: [receipt(2, 4, 4), receipt(3, 4, 3)],
      members: people,
      me: 1,
      backend: backend({ readStates }),
      transfer: undefined,
      onReply: () => {},
      onEdit: () => {},
      onOpen: () => {},
      onPlayVoice: () => {},
    });
    const status = screen.getByTestId('status');
    expect(status.textContent).toContain('1 人未读');
    await fireEvent.click(status);
    const reader = await screen.findByTestId('reader');
    expect(readStates).toHaveBeenCalledWith(1, 4);
    expect(reader.textContent).toContain('Alice');
    expect(reader.textContent).toContain('09:41');
    expect(screen.getByTestId('non-reader').textContent).toContain('陈刚');
  });

  it('shows the deadline prominently and lets the sender remind whoever has not read', async () => {
    i18n.set('en');
    const deadline = Date.now() + 30 * 60_000;
    const [item] = buildTimeline([message(4, 1, { kind: 'text', text: 'Quote: $8.50', deadline })]);
    const remind = vi.fn(async () => ({ id: 1, conversation_id: 1, message_id: 1004, seq: 4, from: 1, to: [3], at: 0 }));
    render(MessageItem, {
      item,
      conversation: conversation(1, [1, 2, 3]),
      receipts: [receipt(2, 4, 4), receipt(3, 4, 0)],
      members: people,
      me: 1,
      backend: backend({ remind, readStates: vi.fn(async () => []) }),
      transfer: undefined,
      onReply: () => {},
      onEdit: () => {},
      onOpen: () => {},
      onPlayVoice: () => {},
    });
    expect(screen.getByTestId('deadline').dataset.urgency).toBe('due_soon');
    await fireEvent.click(screen.getByTestId('remind'));
    expect(remind).toHaveBeenCalledWith(1, 1004);
    expect(await screen.findByText('Reminded 1')).toBeTruthy();
  });

  it('offers retry and discard for a message the server refused', async () => {
    i18n.set('en');
    const retryMessage = vi.fn(async () => {});
    const [item] = buildTimeline([message(null, 1, 'hello', { state: 'failed', error: 'too long' })]);
    render(MessageItem, {
      item,
      conversation: conversation(1, [1, 2], 'direct'),
      receipts: [],
      members: people,
      me: 1,
      backend: backend({ retryMessage }),
      transfer: undefined,
      onReply: () => {},
      onEdit: () => {},
      onOpen: () => {},
      onPlayVoice: () => {},
    });
    expect(screen.getByTestId('status').textContent).toContain('Not sent');
    await fireEvent.click(screen.getByText('Retry'));
    expect(retryMessage).toHaveBeenCalledWith(item.message.txn_id);
  });
});

describe('MessageItem with a video', () => {
  const video = (width: number | null) =>
    message(5, 1, {
      kind: 'video',
      caption: '',
      attachment: { sha256: 'v'.repeat(64), size: 3_000_000, mime: 'video/mp4', name: '开箱.mp4', width, height: width && 360 },
    });
  const props = (item: ReturnType<typeof buildTimeline>[number]) => ({
    item,
    conversation: conversation(1, [1, 2], 'direct'),
    receipts: [],
    members: people,
    me: 2,
    backend: backend(),
    transfer: undefined,
    onReply: () => {},
    onEdit: () => {},
    onOpen: () => {},
    onPlayVoice: () => {},
  });

  it('shows its poster frame, and falls back to a typed file when the poster cannot load', async () => {
    i18n.set('en');
    const [item] = buildTimeline([video(640)]);
    render(MessageItem, props(item));
    const poster = screen.getByTestId('video-poster').querySelector('img')!;
    expect(poster.getAttribute('src')).toBe(`satchel://localhost/chat/${'v'.repeat(64)}`);
    await fireEvent.error(poster);
    expect(screen.queryByTestId('video-poster')).toBeNull();
    expect(screen.getByTestId('file').textContent).toContain('开箱.mp4');
  });

  it('is a typed file when no poster was made', () => {
    const [item] = buildTimeline([video(null)]);
    render(MessageItem, props(item));
    expect(screen.queryByTestId('video-poster')).toBeNull();
    expect(screen.getByTestId('file')).toBeTruthy();
  });
});

describe('Composer', () => {
  it('sends on Enter and inserts a new line on Shift+Enter', async () => {
    const sendText = vi.fn(async () => message(null, 1, 'x'));
    render(Composer, {
      backend: backend({ sendText }),
      conversation: conversation(7, [1, 2]),
      members: people,
      me: 1,
      replyTo: null,
      editing: null,
    });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: '五金用铜的' } });
    await fireEvent.keyDown(box, { key: 'Enter', shiftKey: true });
    expect(sendText).not.toHaveBeenCalled();
    await fireEvent.keyDown(box, { key: 'Enter' });
    expect(sendText).toHaveBeenCalledWith(7, '五金用铜的', null, false, null);
  });
});
