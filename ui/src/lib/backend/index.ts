// The one seam between the UI and the Rust shell: only this folder imports
// `@tauri-apps/*`. Components and stores depend on the `Backend` interface, so tests
// can hand them another implementation.
import { convertFileSrc, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { getCurrentWindow } from '@tauri-apps/api/window';

import type { ChangeEvent } from './bindings/ChangeEvent';
import type { ConversationSummary } from './bindings/ConversationSummary';
import type { DroppedFiles } from './bindings/DroppedFiles';
import type { Invite } from './bindings/Invite';
import type { Organisation } from './bindings/Organisation';
import type { Role } from './bindings/Role';
import type { LocalMessage } from './bindings/LocalMessage';
import type { Member } from './bindings/Member';
import type { Receipt } from './bindings/Receipt';
import type { SessionInfo } from './bindings/SessionInfo';
import type { UiError } from './bindings/UiError';
import type { InAppNotification } from './bindings/InAppNotification';
import type { NotificationSettings } from './bindings/NotificationSettings';
import type { OpenTarget } from './bindings/OpenTarget';
import type { ReadState } from './bindings/ReadState';
import type { Reminder } from './bindings/Reminder';
import type { OrderRecord } from './bindings/OrderRecord';
import type { NewOrder } from './bindings/NewOrder';
import type { SearchHit } from './bindings/SearchHit';
import type { SearchQuery } from './bindings/SearchQuery';
import type { Conversation } from './bindings/Conversation';
import type { MessageBody } from './bindings/MessageBody';
import type { ChainStatus } from './bindings/ChainStatus';
import type { ExportFormat } from './bindings/ExportFormat';
import type { BackupSummary } from './bindings/BackupSummary';
import type { ViewerTarget } from './bindings/ViewerTarget';
import type { JoinLink } from './bindings/JoinLink';
import type { ExportSummary } from './bindings/ExportSummary';
import type { Album } from './bindings/Album';
import type { PhotoDetails } from './bindings/PhotoDetails';

export type {
  ChangeEvent,
  ConversationSummary,
  DroppedFiles,
  InAppNotification,
  LocalMessage,
  Member,
  NotificationSettings,
  OpenTarget,
  ReadState,
  Receipt,
  Reminder,
  SessionInfo,
  UiError,
  OrderRecord,
  NewOrder,
  SearchHit,
  SearchQuery,
};
export type { SearchKind } from './bindings/SearchKind';
export type { SearchOrder } from './bindings/SearchOrder';
export type { Card } from './bindings/Card';
export type { CardState } from './bindings/CardState';
export type { Revision } from './bindings/Revision';
export type { Stage } from './bindings/Stage';
export type { OrderInfo } from './bindings/OrderInfo';
export type { Side } from './bindings/Side';
export type { QuietHours } from './bindings/QuietHours';
export type { Change } from './bindings/Change';
export type { Conversation, MessageBody, ChainStatus, ExportFormat, ExportSummary };
export type { ChainAlarm } from './bindings/ChainAlarm';
export type { BackupSummary, ViewerTarget };
export type { Album, PhotoDetails };
export type { AlbumItem } from './bindings/AlbumItem';
export type { AnnotationThread } from './bindings/AnnotationThread';
export type { Mark } from './bindings/Mark';
export type { Point } from './bindings/Point';
export type { Region } from './bindings/Region';
export type { ConnectionState } from './bindings/ConnectionState';
export type { AttachmentRef } from './bindings/AttachmentRef';
export type { HostInfo } from './bindings/HostInfo';
export type { Invite } from './bindings/Invite';
export type { JoinLink } from './bindings/JoinLink';
export type { Organisation } from './bindings/Organisation';
export type { Role } from './bindings/Role';

export type MediaSize = 'thumb' | 'chat' | 'screen' | 'original';

export interface Backend {
  bootstrap(): Promise<SessionInfo>;
  signIn(serverUrl: string, username: string, password: string): Promise<SessionInfo>;
  hostWorkspace(factory: string, displayName: string, username: string, password: string): Promise<SessionInfo>;
  joinWorkspace(serverUrl: string, code: string, username: string, displayName: string, password: string): Promise<SessionInfo>;
  createInvite(role: Role, orgId: number | null): Promise<Invite>;
  orgs(): Promise<Organisation[]>;
  createOrg(name: string): Promise<Organisation>;
  signOut(): Promise<SessionInfo>;
  conversations(): Promise<ConversationSummary[]>;
  messages(conversationId: number, before: number | null, limit: number): Promise<LocalMessage[]>;
  receipts(conversationId: number): Promise<Receipt[]>;
  members(): Promise<Member[]>;
  openConversation(conversationId: number | null): Promise<void>;
  sendText(
    conversationId: number,
    text: string,
    replyTo: number | null,
    needsConfirmation: boolean,
    deadline: number | null,
  ): Promise<LocalMessage>;
  editMessage(conversationId: number, target: number, text: string): Promise<LocalMessage>;
  recallMessage(conversationId: number, target: number): Promise<LocalMessage>;
  sendDropped(conversationId: number, dropId: number): Promise<LocalMessage[]>;
  pickAndSendFiles(conversationId: number): Promise<LocalMessage[]>;
  sendPasted(conversationId: number, name: string, bytes: Uint8Array): Promise<LocalMessage>;
  sendVoice(conversationId: number, name: string, bytes: Uint8Array, durationMs: number): Promise<LocalMessage>;
  markRead(conversationId: number, seq: number): Promise<void>;
  retryMessage(txnId: string): Promise<void>;
  discardMessage(txnId: string): Promise<void>;
  cancelUpload(txnId: string): Promise<void>;
  pauseUpload(sha256: string): Promise<void>;
  resumeUpload(sha256: string): Promise<void>;
  fetchOriginal(sha256: string): Promise<void>;
  saveAttachment(sha256: string): Promise<string | null>;
  mediaUrl(size: MediaSize, sha256: string): string;
  /** Who has read one of my messages, and when. */
  readStates(conversationId: number, seq: number): Promise<ReadState[]>;
  /** "Remind now": nudges the members who have not read one of my messages. */
  remind(conversationId: number, messageId: number): Promise<Reminder>;
  setMuted(conversationId: number, muted: boolean): Promise<void>;
  notificationSettings(): Promise<NotificationSettings>;
  setNotificationSettings(settings: NotificationSettings): Promise<void>;
  /** The in-app notification list, newest first. */
  notifications(): Promise<InAppNotification[]>;
  markNotificationsSeen(): Promise<void>;
  /** An order's record: spec sheet with every revision, stages, progress, shipments. */
  orderRecord(conversationId: number): Promise<OrderRecord>;
  /** Queues an order message (proposal, answer, stage change, progress, shipment, edit). */
  sendOrderMessage(conversationId: number, body: MessageBody): Promise<LocalMessage>;
  createOrder(order: NewOrder): Promise<Conversation>;
  /** The conversation's photos and videos, and the annotations on them. */
  album(conversationId: number): Promise<Album>;
  /** Queues an annotation, or resolves / reopens one. */
  sendReviewMessage(conversationId: number, body: MessageBody): Promise<LocalMessage>;
  /** What the camera recorded about a photo (camera, time, exposure). */
  photoDetails(sha256: string): Promise<PhotoDetails>;
  /** Full-text search of the local history. */
  search(query: SearchQuery): Promise<SearchHit[]>;
  /** How far this device has verified a conversation's hash chain, and any breaks. */
  chainStatus(conversationId: number): Promise<ChainStatus>;
  /** Asks where, then exports the record; null if the user cancelled. */
  exportRecord(conversationId: number, format: ExportFormat): Promise<ExportSummary | null>;
  /** Backs up the workspace this app hosts into a folder the user picks; null if cancelled. */
  backupWorkspace(): Promise<BackupSummary | null>;
  /** Which window this UI runs in: the main one, or the photo viewer's own. */
  windowLabel(): string;
  /** Shows a photo in the viewer's own window (opening it, on a second monitor if any). */
  openViewerWindow(target: ViewerTarget): Promise<void>;
  /** What the viewer window should show (asked by that window). */
  viewerTarget(): Promise<ViewerTarget | null>;
  /** The main window opened another photo in the viewer window. */
  onViewerTarget(handler: (target: ViewerTarget) => void): Promise<UnlistenFn>;
  closeWindow(): Promise<void>;
  /** The OS opened a join link while the app was running. */
  onJoinLink(handler: (link: JoinLink) => void): Promise<UnlistenFn>;
  onNotification(handler: (n: InAppNotification) => void): Promise<UnlistenFn>;
  onChanges(handler: (event: ChangeEvent) => void): Promise<UnlistenFn>;
  onDropped(handler: (files: DroppedFiles) => void): Promise<UnlistenFn>;
  onDrag(handler: (active: boolean) => void): Promise<UnlistenFn>;
  onFocus(handler: (focused: boolean) => void): Promise<UnlistenFn>;
  /** A notification was clicked: show this conversation (at this message). */
  onOpenConversation(handler: (target: OpenTarget) => void): Promise<UnlistenFn>;
}

/** Turns whatever a command threw into a `UiError`. */
export function asUiError(error: unknown): UiError {
  if (error && typeof error === 'object' && 'code' in error && 'message' in error) {
    return error as UiError;
  }
  return { code: 'internal', message: String(error) };
}

export const tauriBackend: Backend = {
  bootstrap: () => invoke('bootstrap'),
  signIn: (serverUrl, username, password) => invoke('sign_in', { serverUrl, username, password }),
  hostWorkspace: (factory, displayName, username, password) =>
    invoke('host_workspace', { factory, displayName, username, password }),
  joinWorkspace: (serverUrl, code, username, displayName, password) =>
    invoke('join_workspace', { serverUrl, code, username, displayName, password }),
  createInvite: (role, orgId) => invoke('create_invite', { role, orgId }),
  orgs: () => invoke('orgs'),
  createOrg: (name) => invoke('create_org', { name }),
  signOut: () => invoke('sign_out'),
  conversations: () => invoke('conversations'),
  messages: (conversationId, before, limit) => invoke('messages', { conversationId, before, limit }),
  receipts: (conversationId) => invoke('receipts', { conversationId }),
  members: () => invoke('members'),
  openConversation: (conversationId) => invoke('open_conversation', { conversationId }),
  sendText: (conversationId, text, replyTo, needsConfirmation, deadline) =>
    invoke('send_text', { conversationId, text, replyTo, needsConfirmation, deadline }),
  editMessage: (conversationId, target, text) => invoke('edit_message', { conversationId, target, text }),
  recallMessage: (conversationId, target) => invoke('recall_message', { conversationId, target }),
  sendDropped: (conversationId, dropId) => invoke('send_dropped', { conversationId, dropId }),
  pickAndSendFiles: (conversationId) => invoke('pick_and_send_files', { conversationId }),
  sendPasted: (conversationId, name, bytes) =>
    invoke('send_pasted', bytes, {
      headers: { 'x-conversation': String(conversationId), 'x-file-name': name },
    }),
  sendVoice: (conversationId, name, bytes, durationMs) =>
    invoke('send_voice', bytes, {
      headers: { 'x-conversation': String(conversationId), 'x-file-name': name, 'x-duration-ms': String(Math.round(durationMs)) },
    }),
  markRead: (conversationId, seq) => invoke('mark_read', { conversationId, seq }),
  retryMessage: (txnId) => invoke('retry_message', { txnId }),
  discardMessage: (txnId) => invoke('discard_message', { txnId }),
  cancelUpload: (txnId) => invoke('cancel_upload', { txnId }),
  pauseUpload: (sha256) => invoke('pause_upload', { sha256 }),
  resumeUpload: (sha256) => invoke('resume_upload', { sha256 }),
  fetchOriginal: (sha256) => invoke('fetch_original', { sha256 }),
  saveAttachment: (sha256) => invoke('save_attachment', { sha256 }),
  mediaUrl: (size, sha256) => convertFileSrc(`${size}/${sha256}`, 'satchel'),
  readStates: (conversationId, seq) => invoke('read_states', { conversationId, seq }),
  remind: (conversationId, messageId) => invoke('remind', { conversationId, messageId }),
  setMuted: (conversationId, muted) => invoke('set_muted', { conversationId, muted }),
  notificationSettings: () => invoke('notification_settings'),
  setNotificationSettings: (settings) => invoke('set_notification_settings', { settings }),
  notifications: () => invoke('notifications'),
  markNotificationsSeen: () => invoke('mark_notifications_seen'),
  orderRecord: (conversationId) => invoke('order_record', { conversationId }),
  sendOrderMessage: (conversationId, body) => invoke('send_order_message', { conversationId, body }),
  createOrder: (order) => invoke('create_order', { order }),
  album: (conversationId) => invoke('album', { conversationId }),
  sendReviewMessage: (conversationId, body) => invoke('send_review_message', { conversationId, body }),
  photoDetails: (sha256) => invoke('photo_details', { sha256 }),
  search: (query) => invoke('search', { query }),
  chainStatus: (conversationId) => invoke('chain_status', { conversationId }),
  exportRecord: (conversationId, format) => invoke('export_record', { conversationId, format }),
  backupWorkspace: () => invoke('backup_workspace'),
  windowLabel: () => getCurrentWindow().label,
  openViewerWindow: (target) => invoke('open_viewer_window', { target }),
  viewerTarget: () => invoke('viewer_target'),
  onViewerTarget: (handler) => listen<ViewerTarget>('viewer-target', (e) => handler(e.payload)),
  closeWindow: () => getCurrentWindow().close(),
  onJoinLink: (handler) => listen<JoinLink>('join-link', (e) => handler(e.payload)),
  onNotification: (handler) => listen<InAppNotification>('notification', (e) => handler(e.payload)),
  onChanges: (handler) => listen<ChangeEvent>('changes', (e) => handler(e.payload)),
  onDropped: (handler) => listen<DroppedFiles>('dropped', (e) => handler(e.payload)),
  onDrag: (handler) => listen<boolean>('drag', (e) => handler(e.payload)),
  onFocus: (handler) => listen<boolean>('focus', (e) => handler(e.payload)),
  onOpenConversation: (handler) => listen<OpenTarget>('open-conversation', (e) => handler(e.payload)),
};

/** A join link for an invite: what colleagues paste or click to join. */
export function joinLink(server: string, code: string): string {
  return `satchel://join?server=${encodeURIComponent(server)}&code=${encodeURIComponent(code)}`;
}

/** Reads a pasted join link; `null` if it is not one. */
export function parseJoinLink(text: string): { server: string; code: string } | null {
  const match = /^satchel:\/\/join\?(.*)$/.exec(text.trim());
  if (!match) return null;
  const params = new URLSearchParams(match[1]);
  const server = params.get('server') ?? '';
  const code = params.get('code') ?? '';
  return /^https?:\/\//.test(server) && code ? { server, code } : null;
}
