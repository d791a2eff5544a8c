import './app.css';

import { mount } from 'svelte';

import App from './App.svelte';
import { tauriBackend } from './lib/backend';
import ViewerWindow from './lib/components/ViewerWindow.svelte';

const target = document.getElementById('app') as HTMLElement;
// The same UI runs in the photo viewer's own window, showing only the viewer there.
if (tauriBackend.windowLabel() === 'viewer') {
  mount(ViewerWindow, { target, props: { backend: tauriBackend } });
} else {
  mount(App, { target, props: { backend: tauriBackend } });
}
