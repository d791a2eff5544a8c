// All user-visible text goes through `t`. The language is reactive: changing it
// re-renders every string. Simplified Chinese is the default; English is selectable.
import i18next from 'i18next';

import en from './en';
import zhCN from './zh-CN';

export type Lang = 'zh-CN' | 'en';
export const LANGS: { id: Lang; label: string }[] = [
  { id: 'zh-CN', label: '简体中文' },
  { id: 'en', label: 'English' },
];

i18next.init({
  lng: 'zh-CN',
  fallbackLng: 'en',
  resources: { 'zh-CN': { translation: zhCN }, en: { translation: en } },
  interpolation: { escapeValue: false },
  initAsync: false,
});

class I18n {
  lang: Lang = $state('zh-CN');

  set(lang: Lang) {
    i18next.changeLanguage(lang);
    this.lang = lang;
    if (typeof document !== 'undefined') document.documentElement.lang = lang;
  }
}

export const i18n = new I18n();

export function t(key: string, vars?: Record<string, unknown>): string {
  // Reading `i18n.lang` makes every caller re-run when the language changes.
  void i18n.lang;
  return i18next.t(key, vars ?? {}) as string;
}

/** A server or shell error code as a sentence the user can act on. */
export function errorText(error: { code: string; message: string }): string {
  const key = `errors.${error.code.replace(':', '_')}`;
  void i18n.lang;
  return i18next.exists(key) ? (i18next.t(key, { message: error.message }) as string) : t('errors.generic', { message: error.message });
}
