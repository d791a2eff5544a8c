// The app's shared state, projected from the backend: the session, the conversation
// list, members and file transfers. The backend pushes change events; `apply` re-reads
// exactly what changed.
import {
  asUiError,
  type Album,
  type Backend,
  type ChainStatus,
  type Change,
  type ChangeEvent,
  type ConnectionState,
  type ConversationSummary,
  type ExportFormat,
  type ExportSummary,
  type BackupSummary,
  type InAppNotification,
  type JoinLink,
  type Member,
  type MessageBody,
  type NewOrder,
  type OpenTarget,
  type OrderRecord,
  type SearchHit,
  type SearchKind,
  type SearchOrder,
  type SessionInfo,
  type UiError,
} from '../backend';
import { Timeline } from './timeline.svelte';

export type GroupBy = 'order' | 'customer';

export interface Group {
  key: string;
  label: string;
  items: ConversationSummary[];
}

export interface Transfer {
  done: number;
  total: number;
  bytesPerSec: number;
  etaMs: number;
}

/** A card being written: prefilled from a message or photo ("make a card"). */
export interface CardDraft {
  item: string;
  value: string;
  attachments: number[];
}

export type View = 'chat' | 'board';

export interface SearchFilters {
  kind: SearchKind | null;
  /** Only the open conversation. */
  here: boolean;
  order: SearchOrder;
  /** Sent on or after this day (Unix ms), or null. */
  from: number | null;
}

/** A photo or file of the open conversation, as cards and progress updates point at it. */
export interface OrderAttachment {
  messageId: number;
  sha256: string;
  name: string;
  /** Photos show a thumbnail; other files a tile with their type. */
  isImage: boolean;
}

export class AppState {
  session: SessionInfo | null = $state(null);
  connection: ConnectionState = $state({ state: 'idle' });
  conversations: ConversationSummary[] = $state([]);
  members: Map<number, Member> = $state(new Map());
  transfers: Record<string, Transfer> = $state({});
  query = $state('');
  groupBy: GroupBy = $state('order');
  activeId: number | null = $state(null);
  timeline: Timeline | null = $state(null);
  error: UiError | null = $state(null);
  busy = $state(false);
  /** The in-app notification list, newest first. */
  notifications: InAppNotification[] = $state([]);
  /** A message to bring into view once its conversation is open (a clicked notification). */
  jumpTo: { conversationId: number; seq: number } | null = $state(null);
  /** The open order's record (null for other conversations, or until loaded). */
  orderRecord: OrderRecord | null = $state(null);
  /** A card being proposed from the order pane. */
  cardDraft: CardDraft | null = $state(null);
  view: View = $state('chat');
  /** Message search, run from the sidebar's search box. */
  searchHits: SearchHit[] = $state([]);
  searchFilters: SearchFilters = $state({ kind: null, here: false, order: 'newest', from: null });
  private searchRun = 0;
  /** How far the open conversation's hash chain is verified here, and any breaks. */
  chain: ChainStatus | null = $state(null);
  /** The open conversation's photos and videos with their annotations. */
  album: Album | null = $state(null);
  /** The photo open in the viewer, and the annotation to show in it. */
  viewing: { image: number; annotation: number | null } | null = $state(null);
  /** An export running (its format) and the last one finished. */
  exporting: ExportFormat | null = $state(null);
  lastExport: ExportSummary | null = $state(null);
  backingUp = $state(false);
  lastBackup: BackupSummary | null = $state(null);

  constructor(readonly backend: Backend) {}

  get me(): Member | null {
    return this.session?.account?.member ?? null;
  }

  get active(): ConversationSummary | null {
    return this.conversations.find((c) => c.conversation.id === this.activeId) ?? null;
  }

  get totalUnread(): number {
    return this.conversations.reduce((sum, c) => sum + c.unread, 0);
  }

  /** Photos and files of the open conversation (of the pages loaded), newest first. */
  get orderAttachments(): OrderAttachment[] {
    const out: OrderAttachment[] = [];
    for (const m of this.timeline?.messages ?? []) {
      if ((m.body.kind === 'image' || m.body.kind === 'file' || m.body.kind === 'video') && m.id !== null) {
        const a = m.body.attachment;
        out.push({ messageId: m.id, sha256: a.sha256, name: a.name, isImage: m.body.kind === 'image' });
      }
    }
    return out.reverse();
  }

  get unseenNotifications(): number {
    return this.notifications.filter((n) => !n.seen).length;
  }

  /** The list as shown: filtered by the search box and grouped. */
  get groups(): Group[] {
    return groupConversations(this.conversations, this.members, this.query, this.groupBy, this.me?.id ?? 0);
  }

  async bootstrap() {
    await this.run(async () => this.adopt(await this.backend.bootstrap()));
  }

  async signIn(serverUrl: string, username: string, password: string) {
    await this.run(async () => this.adopt(await this.backend.signIn(serverUrl, username, password)));
  }

  async host(factory: string, displayName: string, username: string, password: string) {
    await this.run(async () => this.adopt(await this.backend.hostWorkspace(factory, displayName, username, password)));
  }

  async join(serverUrl: string, code: string, username: string, displayName: string, password: string) {
    await this.run(async () => this.adopt(await this.backend.joinWorkspace(serverUrl, code, username, displayName, password)));
  }

  async signOut() {
    await this.run(async () => {
      this.session = await this.backend.signOut();
      this.select(null);
    });
  }

  /** Runs a user action, keeping `busy` and `error` for the UI. */
  async run(action: () => Promise<void>) {
    this.busy = true;
    this.error = null;
    try {
      await action();
    } catch (e) {
      this.error = asUiError(e);
    } finally {
      this.busy = false;
    }
  }

  private async adopt(session: SessionInfo) {
    this.session = session;
    this.connection = session.connection;
    if (session.account) {
      await Promise.all([this.reloadConversations(), this.reloadMembers(), this.reloadNotifications()]);
    }
  }

  async reloadNotifications() {
    this.notifications = await this.backend.notifications();
  }

  /** A notification arrived (it may also have popped up on the desktop). */
  addNotification(n: InAppNotification) {
    if (this.notifications.some((x) => x.id === n.id)) return;
    this.notifications = [n, ...this.notifications].slice(0, 200);
  }

  async markNotificationsSeen() {
    if (this.unseenNotifications === 0) return;
    this.notifications = this.notifications.map((n) => ({ ...n, seen: true }));
    await this.backend.markNotificationsSeen();
  }

  /** Shows a conversation and, if given, one of its messages. */
  open(target: OpenTarget) {
    this.select(target.conversation_id);
    this.jumpTo = target.seq !== null ? { conversationId: target.conversation_id, seq: target.seq } : null;
  }

  async setMuted(conversationId: number, muted: boolean) {
    await this.run(() => this.backend.setMuted(conversationId, muted));
  }

  async reloadConversations() {
    this.conversations = await this.backend.conversations();
  }

  async reloadMembers() {
    const list = await this.backend.members();
    this.members = new Map(list.map((m) => [m.id, m]));
  }

  select(id: number | null) {
    if (id !== null) this.view = 'chat';
    if (this.activeId === id) return;
    this.activeId = id;
    const summary = this.active;
    this.timeline = summary && this.me ? new Timeline(this.backend, summary.conversation, this.me.id) : null;
    this.orderRecord = null;
    this.cardDraft = null;
    this.chain = null;
    this.album = null;
    this.viewing = null;
    this.lastExport = null;
    void this.timeline?.load();
    void this.reloadOrderRecord();
    void this.reloadChain();
    void this.reloadAlbum();
    void this.backend.openConversation(id);
  }

  /** Searches messages for `query` with the current filters; a newer search wins. */
  async search() {
    const run = ++this.searchRun;
    const text = this.query.trim();
    if (!text) {
      this.searchHits = [];
      return;
    }
    const f = this.searchFilters;
    const hits = await this.backend.search({
      text,
      conversation_id: f.here ? this.activeId : null,
      sender: null,
      from: f.from,
      until: null,
      kind: f.kind,
      order: f.order,
      limit: 50,
    });
    if (run === this.searchRun) this.searchHits = hits;
  }

  /** Re-reads the open order's record. */
  async reloadOrderRecord() {
    const id = this.activeId;
    if (id === null || this.active?.conversation.kind !== 'order') {
      this.orderRecord = null;
      return;
    }
    const record = await this.backend.orderRecord(id);
    if (this.activeId === id) this.orderRecord = record;
  }

  /** Re-reads the open conversation's album. */
  async reloadAlbum() {
    const id = this.activeId;
    if (id === null) {
      this.album = null;
      return;
    }
    const album = await this.backend.album(id);
    if (this.activeId === id) this.album = album;
  }

  /** Opens a photo of the open conversation in the viewer (at an annotation). */
  openPhoto(image: number, annotation: number | null = null) {
    this.viewing = { image, annotation };
  }

  /** Re-reads where the open conversation's hash chain stands. */
  async reloadChain() {
    const id = this.activeId;
    if (id === null) {
      this.chain = null;
      return;
    }
    const status = await this.backend.chainStatus(id);
    if (this.activeId === id) this.chain = status;
  }

  /** Exports the open conversation's record (asking where); errors land in `error`. */
  async exportRecord(format: ExportFormat) {
    const id = this.activeId;
    if (id === null || this.exporting) return;
    this.error = null;
    this.exporting = format;
    try {
      const summary = await this.backend.exportRecord(id, format);
      if (summary && this.activeId === id) this.lastExport = summary;
    } catch (e) {
      this.error = asUiError(e);
    } finally {
      this.exporting = null;
    }
  }

  /**
   * A join link the OS opened while the app runs: offered on the first-run screen. A
   * signed-in profile already belongs to a workspace, so there it is only explained.
   */
  offerJoinLink(link: JoinLink) {
    if (!this.session) return;
    if (this.session.account) {
      this.error = { code: 'join_link_signed_in', message: link.server };
      return;
    }
    this.session = { ...this.session, join: link };
  }

  /** Backs up the hosted workspace (asking where); errors land in `error`. */
  async backupWorkspace() {
    if (this.backingUp) return;
    this.error = null;
    this.backingUp = true;
    try {
      const summary = await this.backend.backupWorkspace();
      if (summary) this.lastBackup = summary;
    } catch (e) {
      this.error = asUiError(e);
    } finally {
      this.backingUp = false;
    }
  }

  /**
   * Queues an order message in the open conversation. Returns whether it was queued;
   * a refusal (the order's rules, a bad field) is kept in `error` for the UI.
   */
  async sendOrder(body: MessageBody): Promise<boolean> {
    const id = this.activeId;
    if (id === null) return false;
    this.error = null;
    try {
      await this.backend.sendOrderMessage(id, body);
      return true;
    } catch (e) {
      this.error = asUiError(e);
      return false;
    }
  }

  /** Staff open a new order; it is selected once created. */
  async createOrder(order: NewOrder): Promise<boolean> {
    this.error = null;
    try {
      const created = await this.backend.createOrder(order);
      await this.reloadConversations();
      this.select(created.id);
      return true;
    } catch (e) {
      this.error = asUiError(e);
      return false;
    }
  }

  /** Applies one pushed batch of changes. */
  async apply(event: ChangeEvent) {
    const reload = event.reload;
    let conversations = reload;
    for (const change of event.changes) {
      conversations ||= change.type === 'conversations';
      this.applyOne(change);
    }
    const work: Promise<unknown>[] = [];
    if (conversations) work.push(this.reloadConversations(), this.reloadMembers());
    const timeline = this.timeline;
    if (timeline) {
      const id = timeline.conversation.id;
      if (reload || event.changes.some((c) => (c.type === 'messages' || c.type === 'outbox') && (c.type === 'outbox' || c.conversation_id === id))) {
        work.push(timeline.refresh());
      }
      if (reload || event.changes.some((c) => c.type === 'receipts' && c.conversation_id === id)) {
        work.push(timeline.reloadReceipts());
      }
      if (reload || conversations || event.changes.some((c) => c.type === 'messages' && c.conversation_id === id)) {
        work.push(this.reloadOrderRecord());
      }
      if (reload || event.changes.some((c) => (c.type === 'messages' || c.type === 'chain_alarm') && c.conversation_id === id)) {
        work.push(this.reloadChain());
      }
      if (reload || event.changes.some((c) => c.type === 'messages' && c.conversation_id === id)) {
        work.push(this.reloadAlbum());
      }
    }
    await Promise.all(work);
    // A conversation that changed membership carries its new member list.
    if (timeline && this.active) timeline.conversation = this.active.conversation;
  }

  private applyOne(change: Change) {
    if (change.type === 'connection') {
      this.connection = change.state;
      if (this.session) this.session = { ...this.session, connection: change.state };
    } else if (change.type === 'transfer') {
      if (change.done >= change.total) {
        const { [change.sha256]: _, ...rest } = this.transfers;
        this.transfers = rest;
      } else {
        this.transfers = {
          ...this.transfers,
          [change.sha256]: {
            done: change.done,
            total: change.total,
            bytesPerSec: change.bytes_per_sec,
            etaMs: change.eta_ms,
          },
        };
      }
    }
  }
}

/** Filters by a search text (title, order number, last message, member names) and groups. */
export function groupConversations(
  list: ConversationSummary[],
  members: Map<number, Member>,
  query: string,
  groupBy: GroupBy,
  me: number,
): Group[] {
  const q = query.trim().toLowerCase();
  const names = (c: ConversationSummary) =>
    c.conversation.members.map((id) => members.get(id)?.display_name ?? '').join(' ');
  const matches = (c: ConversationSummary) =>
    !q ||
    [c.conversation.title, c.conversation.order_number ?? '', c.last_message ? summaryText(c.last_message.body) : '', names(c)]
      .join(' ')
      .toLowerCase()
      .includes(q);
  const visible = list.filter(matches);
  const groups = new Map<string, Group>();
  const add = (key: string, label: string, item: ConversationSummary) => {
    let group = groups.get(key);
    if (!group) {
      group = { key, label, items: [] };
      groups.set(key, group);
    }
    group.items.push(item);
  };
  for (const c of visible) {
    const conv = c.conversation;
    if (groupBy === 'order') {
      const key = conv.kind === 'order' ? 'orders' : conv.kind === 'direct' ? 'direct' : 'internal';
      add(key, key, c);
    } else {
      // A customer organisation is named by its members in the conversation.
      const customers = conv.members
        .map((id) => members.get(id))
        .filter((m): m is Member => !!m && m.role === 'customer' && m.id !== me);
      if (conv.org_id !== null && customers.length > 0) {
        add(`org-${conv.org_id}`, customers.map((m) => m.display_name).join(', '), c);
      } else {
        add('internal', 'internal', c);
      }
    }
  }
  const order = ['orders', 'direct', 'internal'];
  return [...groups.values()].sort((a, b) => {
    const ia = order.indexOf(a.key);
    const ib = order.indexOf(b.key);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    return a.label.localeCompare(b.label);
  });
}

/** A one-line rendering of a message body for lists. */
export function summaryText(body: import('../backend').MessageBody): string {
  switch (body.kind) {
    case 'text':
      return body.text;
    case 'edit':
      return body.text;
    case 'image':
      return `[图片 image] ${body.attachment.name}`;
    case 'video':
      return `[视频 video] ${body.attachment.name}`;
    case 'voice':
      return `[语音 voice] ${Math.round(body.duration_ms / 1000)}s`;
    case 'file':
      return `[文件 file] ${body.attachment.name}`;
    case 'recall':
      return '[撤回 recalled]';
    case 'system':
      return body.text;
    case 'confirmation_request':
      return `[确认 confirm] ${body.item}: ${body.value}`;
    case 'confirmation_answer':
      return body.approved ? '[已确认 approved]' : '[已拒绝 rejected]';
    case 'stage_change':
      return `[阶段 stage] ${body.to}`;
    case 'shipment':
      return `[已发货 shipped] ${body.carrier} ${body.tracking_numbers.join(', ')}`;
    case 'order_edit':
      return '[订单修改 order details changed]';
    case 'progress_update':
      return `[进度 progress] ${body.text}`;
    case 'annotation':
      return `[标注 annotation] ${body.comment}`;
    case 'annotation_status':
      return body.resolved ? '[标注已解决 annotation resolved]' : '[标注重新打开 annotation reopened]';
  }
}
