import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { Album, AlbumItem, Backend, ViewerTarget } from '../src/lib/backend';
import Viewer from '../src/lib/components/Viewer.svelte';
import ViewerWindow from '../src/lib/components/ViewerWindow.svelte';
import { i18n } from '../src/lib/i18n/index.svelte';
import { member } from './fixtures';

afterEach(cleanup);

// jsdom has no layout; the viewer only needs the observer to exist.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

function photo(message: number, name: string): AlbumItem {
  return {
    message,
    seq: message,
    sender: 1,
    sent_at: 1_700_000_000_000,
    kind: 'photo',
    attachment: { sha256: String(message).repeat(64).slice(0, 64), size: 1, mime: 'image/jpeg', name, width: 6000, height: 4000 },
    caption: '',
    stage: 'sample',
    round: 1,
    cards: [],
    annotations: 0,
    open_annotations: 0,
  } as AlbumItem;
}

describe('ViewerWindow', () => {
  it('opens at the photo the main window sent, follows the next one, and closes its window', async () => {
    i18n.set('en');
    const album: Album = { items: [photo(7, 'front.jpg'), photo(9, 'side.jpg')], annotations: [] };
    let retarget: (t: ViewerTarget) => void = () => {};
    const closeWindow = vi.fn(async () => {});
    const backend = {
      mediaUrl: (s: string, h: string) => `satchel://localhost/${s}/${h}`,
      viewerTarget: vi.fn(async () => ({ conversation_id: 3, image: 7, annotation: null })),
      onViewerTarget: vi.fn(async (h: (t: ViewerTarget) => void) => {
        retarget = h;
        return () => {};
      }),
      onChanges: vi.fn(async () => () => {}),
      album: vi.fn(async () => album),
      members: vi.fn(async () => [member(1, '王丽')]),
      messages: vi.fn(async () => []),
      photoDetails: vi.fn(async () => ({ camera: null, taken_at: null, exposure: null })),
      fetchOriginal: vi.fn(async () => {}),
      closeWindow,
    } as unknown as Backend;
    render(ViewerWindow, { backend });
    await waitFor(() => expect(screen.getByTestId('viewer-window').textContent).toContain('front.jpg'));
    expect(backend.album).toHaveBeenCalledWith(3);
    expect(screen.queryByTestId('viewer-popout')).toBeNull();

    retarget({ conversation_id: 3, image: 9, annotation: null });
    await waitFor(() => expect(screen.getByTestId('viewer-window').textContent).toContain('side.jpg'));
    expect(backend.album).toHaveBeenCalledTimes(1);

    await fireEvent.click(screen.getByTestId('viewer-close'));
    expect(closeWindow).toHaveBeenCalled();
  });
});

describe('Viewer', () => {
  it('shows the chat preview at once while the original is still on its way', async () => {
    i18n.set('en');
    const front = photo(7, 'front.jpg');
    const backend = {
      mediaUrl: (s: string, h: string) => `satchel://localhost/${s}/${h}`,
      fetchOriginal: vi.fn(() => new Promise(() => {})),
      photoDetails: vi.fn(async () => ({ camera: null, taken_at: null, exposure: null })),
    } as unknown as Backend;
    render(Viewer, {
      backend,
      conversationId: 3,
      photos: [front],
      annotations: [],
      image: 7,
      nameOf: () => '王丽',
      replyOf: () => null,
      onClose: () => {},
    });
    const standin = screen.getByTestId('viewer-preview');
    expect(standin.getAttribute('src')).toBe(`satchel://localhost/chat/${front.attachment.sha256}`);
    expect(screen.queryByTestId('viewer-image')).toBeNull();
    expect(screen.getByText(/6000 × 4000/)).toBeTruthy();
  });

  it('shows a large photo from its screen level at fit and from its original past it', async () => {
    i18n.set('en');
    // A stage of 1200 × 800 CSS pixels at 1×: the 6000 px photo fits at 1200 device
    // pixels, which its 2560 px level covers.
    const width = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientWidth');
    const height = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight');
    Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1200 });
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 800 });
    try {
      const front = photo(7, 'front.jpg');
      front.attachment.screen = { sha256: 'e'.repeat(64), size: 1, width: 2560, height: 1707 };
      const backend = {
        mediaUrl: (s: string, h: string) => `satchel://localhost/${s}/${h}`,
        fetchOriginal: vi.fn(async () => {}),
        photoDetails: vi.fn(async () => ({ camera: null, taken_at: null, exposure: null })),
      } as unknown as Backend;
      render(Viewer, {
        backend,
        conversationId: 3,
        photos: [front],
        annotations: [],
        image: 7,
        nameOf: () => '王丽',
        replyOf: () => null,
        onClose: () => {},
      });
      const shown = () => screen.getByTestId('viewer-image');
      await waitFor(() => expect(shown().dataset.level).toBe('screen'));
      expect(shown().getAttribute('src')).toBe(`satchel://localhost/screen/${front.attachment.sha256}`);
      // The original is fetched (for its EXIF and for zooming in) but not put on screen.
      await waitFor(() => expect(backend.fetchOriginal).toHaveBeenCalled());
      expect(screen.queryByTestId('viewer-level')).toBeNull();

      await fireEvent.click(screen.getByTestId('viewer-actual'));
      await waitFor(() => expect(shown().dataset.level).toBe('original'));
      expect(shown().getAttribute('src')).toBe(`satchel://localhost/original/${front.attachment.sha256}`);
      // The level stays beneath it; back at fit the decoded original is kept.
      expect(screen.getByTestId('viewer-level').dataset.level).toBe('screen');
      await fireEvent.click(screen.getByTestId('viewer-fit'));
      await waitFor(() => expect(screen.getByTestId('viewer-zoom').textContent).toBe('20%'));
      expect(shown().dataset.level).toBe('original');
    } finally {
      for (const [name, d] of [['clientWidth', width], ['clientHeight', height]] as const) {
        if (d) Object.defineProperty(HTMLElement.prototype, name, d);
      }
    }
  });
});
