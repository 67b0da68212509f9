// Cache manager: the models the runtime keeps (its model cache), with sizes,
// delete buttons, storage used/quota and a request for persistent storage.
// Uses the runtime's listCachedModels / deleteCachedModel / storageEstimate.
import { formatBytes } from './format.js';

export class CacheManager {
  constructor({ api, list, meter, text, persist, persistState, refresh, currentURL }) {
    Object.assign(this, { api, listEl: list, meter, text, persistBtn: persist, persistState, currentURL });
    this.onDeleted = () => {};
    this.pending = null;
    refresh.addEventListener('click', () => this.refresh());
    persist.addEventListener('click', () => this.requestPersist());
    if (!navigator.storage?.persist) persist.disabled = true;
  }

  /** refresh re-reads the cache; concurrent calls share one pass. */
  refresh() {
    if (!this.pending) this.pending = this.render().finally(() => { this.pending = null; });
    return this.pending;
  }

  async render() {
    if (typeof this.api.listCachedModels !== 'function') {
      this.listEl.replaceChildren(this.note('This runtime does not list its cache.'));
    } else {
      let models = [];
      try {
        models = await this.api.listCachedModels();
      } catch (err) {
        this.listEl.replaceChildren(this.note(`Could not read the cache: ${err.message}`));
        models = null;
      }
      if (models) this.renderList(models);
    }
    await this.renderStorage();
  }

  note(text) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = text;
    return li;
  }

  renderList(models) {
    if (!models.length) {
      this.listEl.replaceChildren(this.note('No models stored on this device yet.'));
      return;
    }
    const current = this.currentURL();
    this.listEl.replaceChildren(...models.map((m) => {
      const li = document.createElement('li');
      li.dataset.url = m.url;
      const name = document.createElement('span');
      name.className = 'name';
      // Names and URLs come from files on the network: text only.
      const label = m.name || shortURL(m.url);
      name.textContent = label;
      name.title = m.url;
      if (current && sameModel(current, m.url)) {
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = 'loaded';
        name.append(badge);
      }
      const size = document.createElement('span');
      size.className = 'size';
      const cached = m.cachedBytes ?? m.bytes ?? 0;
      size.textContent = m.complete === false && m.bytes ? `${formatBytes(cached)} of ${formatBytes(m.bytes)} (partial)` : formatBytes(cached);
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'btn btn-small btn-quiet btn-danger';
      del.textContent = 'Delete';
      del.setAttribute('aria-label', `Delete ${label} from this device`);
      del.dataset.testid = 'cache-delete';
      del.addEventListener('click', () => this.remove(m.url, del));
      li.append(name, size, del);
      return li;
    }));
  }

  async remove(url, button) {
    button.disabled = true;
    try {
      await this.api.deleteCachedModel(url);
      this.onDeleted(url);
    } catch (err) {
      button.disabled = false;
      this.persistState.textContent = `Delete failed: ${err.message}`;
      return;
    }
    await this.refresh();
    // Keep keyboard focus in the section after the row disappears.
    (this.listEl.querySelector('button') ?? this.persistBtn).focus();
  }

  async renderStorage() {
    let est = { usage: null, quota: null, persisted: null };
    try {
      est = typeof this.api.storageEstimate === 'function'
        ? await this.api.storageEstimate()
        : { ...(await navigator.storage?.estimate?.()), persisted: await navigator.storage?.persisted?.() };
    } catch { /* unknown */ }
    if (Number.isFinite(est.usage) && Number.isFinite(est.quota) && est.quota > 0) {
      this.meter.value = Math.min(1, est.usage / est.quota);
      this.text.textContent = `Storage: ${formatBytes(est.usage)} used of ${formatBytes(est.quota)} available to this site`;
    } else {
      this.text.textContent = 'Storage: unknown in this browser';
    }
    this.showPersisted(est.persisted);
  }

  showPersisted(p) {
    if (p === true) {
      this.persistState.textContent = 'Persistent: the browser will not evict these models.';
      this.persistBtn.disabled = true;
    } else if (p === false) {
      this.persistState.textContent = 'Best effort: the browser may evict these models when space runs low.';
    } else {
      this.persistState.textContent = '';
    }
  }

  async requestPersist() {
    try {
      const granted = await navigator.storage.persist();
      this.showPersisted(granted);
      if (!granted) this.persistState.textContent = 'The browser declined; it usually grants this to installed or frequently used sites.';
    } catch (err) {
      this.persistState.textContent = `Not available: ${err.message}`;
    }
  }
}

function shortURL(u) {
  try {
    const url = new URL(u);
    return url.host === location.host ? url.pathname : `${url.host}${url.pathname}`;
  } catch {
    return u;
  }
}

function sameModel(a, b) {
  const norm = (s) => { try { const u = new URL(s, location.href); return u.href.replace(/manifest\.json$/, '').replace(/\/?$/, '/'); } catch { return s; } };
  return norm(a) === norm(b);
}
