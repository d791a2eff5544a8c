// Per-machine preferences: language and theme, kept in the webview's local storage.
import { i18n, type Lang } from '../i18n/index.svelte';

export type Theme = 'light' | 'dark';

class Settings {
  theme: Theme = $state('light');

  load() {
    const lang = localStorage.getItem('satchel.lang') as Lang | null;
    if (lang === 'zh-CN' || lang === 'en') i18n.set(lang);
    const stored = localStorage.getItem('satchel.theme') as Theme | null;
    const prefersDark = typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
    this.setTheme(stored ?? (prefersDark ? 'dark' : 'light'));
  }

  setLang(lang: Lang) {
    i18n.set(lang);
    localStorage.setItem('satchel.lang', lang);
  }

  setTheme(theme: Theme) {
    this.theme = theme;
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('satchel.theme', theme);
  }
}

export const settings = new Settings();
