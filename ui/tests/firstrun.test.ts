import { cleanup, render, screen } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';

import type { Backend } from '../src/lib/backend';
import FirstRun from '../src/lib/components/FirstRun.svelte';
import { i18n } from '../src/lib/i18n/index.svelte';
import { AppState } from '../src/lib/stores/app.svelte';

afterEach(cleanup);

describe('FirstRun', () => {
  it('switches to joining, filled in, when the OS hands the running app a join link', () => {
    i18n.set('en');
    const app = new AppState({} as Backend);
    app.session = { account: null, host: null, demo: false, profile_dir: '/p', connection: 'idle', join: null } as unknown as AppState['session'];
    render(FirstRun, { app });
    expect(screen.queryByTestId('invite-code')).toBeNull();
    app.offerJoinLink({ server: 'http://192.168.1.20:7878', code: 'K7QM-2XPA-9RDW' });
    flushSync();
    expect((screen.getByTestId('invite-code') as HTMLInputElement).value).toBe('K7QM-2XPA-9RDW');
    expect((screen.getByTestId('join-server-url') as HTMLInputElement).value).toBe('http://192.168.1.20:7878');
  });
});
