import { describe, expect, it, vi } from 'vitest';

import type { Backend, ChangeEvent, ConversationSummary, LocalMessage } from '../src/lib/backend';
import { AppState, groupConversations } from '../src/lib/stores/app.svelte';
import { PAGE, Timeline } from '../src/lib/stores/timeline.svelte';
import { conversation, member, message } from './fixtures';

/** A backend whose answers the test sets; every call is recorded. */
function fakeBackend(overrides: Partial<Backend> = {}): Backend {
  const unlisten = async () => () => {};
  return {
    bootstrap: vi.fn(),
    signIn: vi.fn(),
    hostWorkspace: vi.fn(),
    joinWorkspace: vi.fn(),
    createInvite: vi.fn(),
    orgs: vi.fn(async () => []),
    createOrg: vi.fn(),
    signOut: vi.fn(),
    conversations: vi.fn(async () => []),
    messages: vi.fn(async () => []),
    receipts: vi.fn(async () => []),
    members: vi.fn(async () => []),
    openConversation: vi.fn(async () => {}),
    sendText: vi.fn(),
    editMessage: vi.fn(),
    recallMessage: vi.fn(),
    sendDropped: vi.fn(),
    pickAndSendFiles: vi.fn(),
    sendPasted: vi.fn(),
    sendVoice: vi.fn(),
    markRead: vi.fn(async () => {}),
    retryMessage: vi.fn(),
    discardMessage: vi.fn(),
    cancelUpload: vi.fn(),
    pauseUpload: vi.fn(),
    resumeUpload: vi.fn(),
    fetchOriginal: vi.fn(),
    saveAttachment: vi.fn(),
    mediaUrl: (size, sha) => `satchel://localhost/${size}/${sha}`,
    onChanges: unlisten,
    onDropped: unlisten,
    onDrag: unlisten,
    onFocus: unlisten,
    onOpenConversation: unlisten,
    onNotification: unlisten,
    readStates: vi.fn(async () => []),
    orderRecord: vi.fn(async () => ({ stage: 'inquiry' as const, cards: [], stages: [], progress: [], shipments: [] })),
    sendOrderMessage: vi.fn(),
    createOrder: vi.fn(),
    search: vi.fn(async () => []),
    chainStatus: vi.fn(async () => ({ verified_seq: 0, head: '0'.repeat(64), alarms: [] })),
    album: vi.fn(async () => ({ items: [], annotations: [] })),
    sendReviewMessage: vi.fn(),
    photoDetails: vi.fn(async () => ({ camera: null, taken: null, exposure: null })),
    exportRecord: vi.fn(async () => null),
    backupWorkspace: vi.fn(async () => null),
    windowLabel: () => 'main',
    openViewerWindow: vi.fn(async () => {}),
    viewerTarget: vi.fn(async () => null),
    onViewerTarget: vi.fn(async () => () => {}),
    closeWindow: vi.fn(async () => {}),
    onJoinLink: vi.fn(async () => () => {}),
    remind: vi.fn(),
    setMuted: vi.fn(async () => {}),
    notificationSettings: vi.fn(async () => ({ quiet_hours: null, deadline_lead_minutes: 60 })),
    setNotificationSettings: vi.fn(async () => {}),
    notifications: vi.fn(async () => []),
    markNotificationsSeen: vi.fn(async () => {}),
    ...overrides,
  };
}

function summary(id: number, members: number[], kind: 'order' | 'direct' | 'group' = 'order', unread = 0): ConversationSummary {
  return {
    conversation: conversation(id, members, kind, { org_id: kind === 'order' ? id : null }),
    unread,
    last_message: null,
    muted: false,
    next_deadline: null,
    chain_alarms: 0,
  };
}

describe('groupConversations', () => {
  const people = new Map(
    [member(1, '王丽'), member(2, 'Alice', 'customer', 1), member(3, 'Somchai', 'customer', 2)].map((m) => [m.id, m]),
  );
  const list = [summary(1, [1, 2]), summary(2, [1, 3]), summary(3, [1], 'group')];

  it('groups by kind with orders first', () => {
    const groups = groupConversations(list, people, '', 'order', 1);
    expect(groups.map((g) => [g.key, g.items.length])).toEqual([['orders', 2], ['internal', 1]]);
  });

  it('groups by customer, named by the customer members', () => {
    const groups = groupConversations(list, people, '', 'customer', 1);
    expect(groups.map((g) => g.label)).toEqual(['internal', 'Alice', 'Somchai'].sort((a, b) => (a === 'internal' ? -1 : b === 'internal' ? 1 : a.localeCompare(b))));
  });

  it('filters by order number and by member name', () => {
    expect(groupConversations(list, people, 'TB-2', 'order', 1).flatMap((g) => g.items).map((i) => i.conversation.id)).toEqual([2]);
    expect(groupConversations(list, people, 'alice', 'order', 1).flatMap((g) => g.items).map((i) => i.conversation.id)).toEqual([1]);
  });
});

describe('AppState', () => {
  it('offers the photos and files of the conversation and files, newest first, to cards and progress', () => {
    const app = new AppState(fakeBackend());
    const attachment = (name: string) => ({ sha256: name, size: 1, mime: 'x', name, width: null, height: null });
    const timeline = new Timeline(app.backend, conversation(1, [1, 2]), 1);
    timeline.messages = [
      message(1, 1, { kind: 'image', attachment: attachment('front.jpg'), caption: '' }),
      message(2, 1, '文字'),
      message(3, 2, { kind: 'file', attachment: attachment('spec.pdf'), caption: '' }),
      message(null, 1, { kind: 'image', attachment: attachment('unsent.jpg'), caption: '' }),
    ];
    app.timeline = timeline;
    expect(app.orderAttachments.map((a) => [a.name, a.isImage])).toEqual([
      ['spec.pdf', false],
      ['front.jpg', true],
    ]);
  });

  it('searches with the filters and keeps only the newest answer', async () => {
    const hit = (n: number) => ({ message: message(n, 2, `拉链 ${n}`), snippet: `拉链 ${n}`, needles: ['拉链'] });
    let release: (v: ReturnType<typeof hit>[]) => void = () => {};
    const search = vi
      .fn()
      .mockImplementationOnce(() => new Promise((r) => (release = r)))
      .mockImplementationOnce(async () => [hit(2)]);
    const app = new AppState(fakeBackend({ search }));
    app.query = '拉';
    const slow = app.search();
    app.query = '拉链';
    app.searchFilters = { kind: 'photos', here: false, order: 'relevance', from: null };
    await app.search();
    release([hit(1)]);
    await slow;
    expect(app.searchHits.map((h) => h.message.seq)).toEqual([2]);
    expect(search).toHaveBeenLastCalledWith(expect.objectContaining({ text: '拉链', kind: 'photos', order: 'relevance', conversation_id: null }));
  });

  it('reloads the list and tracks the connection from pushed changes', async () => {
    const conversations = vi.fn(async () => [summary(1, [1, 2], 'order', 3)]);
    const app = new AppState(fakeBackend({ conversations }));
    const event: ChangeEvent = {
      changes: [{ type: 'conversations' }, { type: 'connection', state: { state: 'offline', reason: 'refused', retry_in_ms: 1000 } }],
      reload: false,
    };
    await app.apply(event);
    expect(conversations).toHaveBeenCalledTimes(1);
    expect(app.totalUnread).toBe(3);
    expect(app.connection.state).toBe('offline');
  });

  it('keeps the latest transfer progress and forgets finished ones', async () => {
    const app = new AppState(fakeBackend());
    const progress = (done: number) => ({ type: 'transfer' as const, sha256: 'ab', done, total: 100, bytes_per_sec: 10, eta_ms: 1 });
    await app.apply({ changes: [progress(40)], reload: false });
    expect(app.transfers.ab.done).toBe(40);
    await app.apply({ changes: [progress(100)], reload: false });
    expect(app.transfers.ab).toBeUndefined();
  });

  it('keeps the error of a failed sign-in for the form', async () => {
    const signIn = vi.fn(async () => {
      throw { code: 'server:invalid_credentials', message: 'wrong password' };
    });
    const app = new AppState(fakeBackend({ signIn }));
    await app.signIn('http://127.0.0.1:7878', 'wang', 'nope');
    expect(app.error?.code).toBe('server:invalid_credentials');
    expect(app.busy).toBe(false);
  });
});

describe('Timeline', () => {
  it('opens with one page and loads older pages on demand', async () => {
    const all: LocalMessage[] = Array.from({ length: PAGE * 2 + 5 }, (_, i) => message(i + 1, 2, `m${i + 1}`, { local_id: i + 1 }));
    const messages = vi.fn(async (_c: number, before: number | null, limit: number) => {
      const end = before === null ? all.length : all.findIndex((m) => m.local_id === before);
      return all.slice(Math.max(0, end - limit), end);
    });
    const timeline = new Timeline(fakeBackend({ messages }), conversation(1, [1, 2]), 1);
    await timeline.load();
    expect(timeline.messages).toHaveLength(PAGE);
    expect(timeline.reachedStart).toBe(false);
    await timeline.loadOlder();
    await timeline.loadOlder();
    expect(timeline.messages).toHaveLength(all.length);
    expect(timeline.reachedStart).toBe(true);
    expect(timeline.messages[0].seq).toBe(1);
  });

  it('reports each read position once, and again after a refusal', async () => {
    let refuse = true;
    const markRead = vi.fn(async () => {
      if (refuse) throw { code: 'not_focused', message: '' };
    });
    const timeline = new Timeline(fakeBackend({ markRead }), conversation(1, [1, 2]), 1);
    await timeline.markRead(5);
    refuse = false;
    await timeline.markRead(5);
    await timeline.markRead(5);
    await timeline.markRead(4);
    expect(markRead).toHaveBeenCalledTimes(2);
  });
});

describe('notifications in the app', () => {
  const entry = (id: number, seen = false) => ({
    id,
    at: id,
    kind: 'deadline' as const,
    title: '⏰ 10:00 截止',
    body: '1 人未读',
    conversation_id: 1,
    seq: 4,
    popped_up: true,
    seen,
  });

  it('counts unseen ones, adds each once, and marks all seen when the list opens', async () => {
    const backend = fakeBackend({ notifications: vi.fn(async () => [entry(1, true)]) });
    const app = new AppState(backend);
    await app.reloadNotifications();
    expect(app.unseenNotifications).toBe(0);
    app.addNotification(entry(2));
    app.addNotification(entry(2));
    expect(app.notifications.map((n) => n.id)).toEqual([2, 1]);
    expect(app.unseenNotifications).toBe(1);
    await app.markNotificationsSeen();
    expect(app.unseenNotifications).toBe(0);
    expect(backend.markNotificationsSeen).toHaveBeenCalledTimes(1);
  });

  it('opening a clicked notification selects its conversation and asks for its message', () => {
    const app = new AppState(fakeBackend());
    app.conversations = [summary(1, [1, 2])];
    app.session = {
      account: { server_url: 'http://x', member: member(1, '王丽'), workspace: { name: 'F' } },
    } as unknown as AppState['session'];
    app.open({ conversation_id: 1, seq: 4 });
    expect(app.activeId).toBe(1);
    expect(app.jumpTo).toEqual({ conversationId: 1, seq: 4 });
  });
});

describe('the record of the open conversation', () => {
  function signedIn(backend: Backend) {
    const app = new AppState(backend);
    app.conversations = [summary(1, [1, 2])];
    app.session = {
      account: { server_url: 'http://x', member: member(1, '王丽'), workspace: { name: 'F' } },
    } as unknown as AppState['session'];
    return app;
  }

  it('re-reads the chain status when an alarm arrives for it, not for others', async () => {
    const alarm = { conversation_id: 1, seq: 2, message_id: 7, problem: 'mismatch' as const, detail: 'x', detected_at: 1 };
    const chainStatus = vi
      .fn()
      .mockResolvedValueOnce({ verified_seq: 3, head: 'a'.repeat(64), alarms: [] })
      .mockResolvedValue({ verified_seq: 3, head: 'a'.repeat(64), alarms: [alarm] });
    const app = signedIn(fakeBackend({ chainStatus }));
    app.select(1);
    await vi.waitFor(() => expect(app.chain?.verified_seq).toBe(3));
    await app.apply({ changes: [{ type: 'chain_alarm', conversation_id: 9 }], reload: false });
    expect(chainStatus).toHaveBeenCalledTimes(1);
    await app.apply({ changes: [{ type: 'chain_alarm', conversation_id: 1 }], reload: false });
    expect(app.chain?.alarms).toEqual([alarm]);
  });

  it('keeps what an export wrote, and why an export failed', async () => {
    const done = { path: '/tmp/TB-001.zip', messages: 12, files: 3, file_bytes: 100, head_seq: 12, head: 'b'.repeat(64) };
    const exportRecord = vi.fn().mockResolvedValueOnce(done).mockRejectedValueOnce({ code: 'export', message: 'exists already' });
    const app = signedIn(fakeBackend({ exportRecord }));
    app.select(1);
    await app.exportRecord('zip');
    expect(exportRecord).toHaveBeenCalledWith(1, 'zip');
    expect(app.lastExport).toEqual(done);
    expect(app.exporting).toBeNull();
    await app.exportRecord('folder');
    expect(app.error?.code).toBe('export');
    expect(app.exporting).toBeNull();
  });
});

describe('AppState.offerJoinLink', () => {
  it('offers a link opened while signed out, and only explains it while signed in', () => {
    const app = new AppState(fakeBackend());
    const link = { server: 'http://192.168.1.20:7878', code: 'K7QM-2XPA-9RDW' };
    app.session = { account: null, host: null, demo: false, profile_dir: '/p', connection: 'idle', join: null } as unknown as AppState['session'];
    app.offerJoinLink(link);
    expect(app.session?.join).toEqual(link);
    app.session = { ...app.session!, account: { server_url: 'http://x', member: member(1, '王丽'), workspace: { name: 'F' } } } as unknown as AppState['session'];
    app.offerJoinLink({ ...link, code: 'OTHER' });
    expect(app.session?.join).toEqual(link);
    expect(app.error?.code).toBe('join_link_signed_in');
  });
});

describe('AppState.backupWorkspace', () => {
  it('keeps what a backup holds, ignores a cancelled one, and reports a failure', async () => {
    const done = { path: '/mnt/usb/Satchel 备份 backup', messages: 240, conversations: 9, files: 31, bytes: 400_000_000 };
    const backupWorkspace = vi
      .fn()
      .mockResolvedValueOnce(done)
      .mockResolvedValueOnce(null)
      .mockRejectedValueOnce({ code: 'host', message: 'the backup failed: disk full' });
    const app = new AppState(fakeBackend({ backupWorkspace }));
    await app.backupWorkspace();
    expect(app.lastBackup).toEqual(done);
    expect(app.backingUp).toBe(false);
    await app.backupWorkspace();
    expect(app.lastBackup).toEqual(done);
    await app.backupWorkspace();
    expect(app.error?.code).toBe('host');
    expect(app.backingUp).toBe(false);
  });
});

describe('Timeline.loadUntil', () => {
  it('loads older pages until the message a notification points at is there', async () => {
    const all = Array.from({ length: PAGE * 3 }, (_, i) => message(i + 1, 2, `m${i + 1}`, { local_id: i + 1 }));
    const messages = vi.fn(async (_c: number, before: number | null, limit: number) => {
      const upTo = before === null ? all.length : before - 1;
      return all.slice(Math.max(0, upTo - limit), upTo);
    });
    const timeline = new Timeline(fakeBackend({ messages }), conversation(1, [1, 2]), 1);
    await timeline.load();
    expect(await timeline.loadUntil(5)).toBe(true);
    expect(timeline.messages[0].seq).toBeLessThanOrEqual(5);
    expect(await timeline.loadUntil(99999)).toBe(false);
  });
});
