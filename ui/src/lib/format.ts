// Numbers and times as people read them, in the current language.
import { i18n, t } from './i18n/index.svelte';

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

// Creating an Intl formatter is costly; a timeline formats hundreds of times.
const formatters = new Map<string, { time: Intl.DateTimeFormat; day: Intl.DateTimeFormat }>();

function formattersFor(lang: string) {
  let f = formatters.get(lang);
  if (!f) {
    f = {
      time: new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' }),
      day: new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric' }),
    };
    formatters.set(lang, f);
  }
  return f;
}

export function formatTime(ms: number, now: number = Date.now()): string {
  const f = formattersFor(i18n.lang);
  const date = new Date(ms);
  const today = new Date(now);
  const time = f.time.format(date);
  if (date.toDateString() === today.toDateString()) return time;
  const yesterday = new Date(now - 86_400_000);
  if (date.toDateString() === yesterday.toDateString()) return `${t('chat.yesterday')} ${time}`;
  return `${f.day.format(date)} ${time}`;
}
