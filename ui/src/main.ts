import './app.css';

import { mount } from 'svelte';

import App from './App.svelte';
import { tauriBackend } from './lib/backend';

mount(App, { target: document.getElementById('app') as HTMLElement, props: { backend: tauriBackend } });
