// Rendering of untrusted model text: the streamed output and the token chips.
// Everything the model or its tokenizer produces goes through textContent or
// Text nodes, never through innerHTML.

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** OutputView streams a completion into el: the prompt echo, then generated text. */
export class OutputView {
  constructor(el) {
    this.el = el;
    this.genText = null;
  }

  start(promptText) {
    const echo = document.createElement('span');
    echo.className = 'prompt-echo';
    echo.textContent = promptText;
    const gen = document.createElement('span');
    gen.className = 'gen';
    this.genText = document.createTextNode('');
    gen.append(this.genText);
    this.el.replaceChildren(echo, gen);
    this.el.dataset.state = 'generating';
  }

  /** append adds model text; stays scrolled to the bottom if it was there. */
  append(text) {
    if (!this.genText || !text) return;
    const el = this.el;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    this.genText.appendData(text);
    if (atBottom) el.scrollTop = el.scrollHeight;
  }

  /** text is what was generated so far. */
  get text() { return this.genText ? this.genText.data : ''; }

  finish(state) { this.el.dataset.state = state; }

  clear(placeholder) {
    const p = document.createElement('span');
    p.className = 'placeholder';
    p.textContent = placeholder;
    this.el.replaceChildren(p);
    this.genText = null;
    this.el.dataset.state = 'idle';
  }
}

/** tokenLabel turns raw token bytes into a short visible label. */
export function tokenLabel(bytes, fallbackText) {
  let text;
  if (bytes) {
    try {
      text = utf8.decode(bytes);
    } catch {
      // A piece of a multi-byte character: show the bytes.
      return `‹${hex(bytes)}›`;
    }
  } else {
    text = fallbackText ?? '';
  }
  if (text === '') return '∅';
  return text.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍');
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * TokenView shows prompt and output tokens as chips with their ids.
 * Hover shows id and bytes (title); keyboard users focus the list and move
 * with the arrow keys (aria-activedescendant), the info line says the same.
 */
export class TokenView {
  constructor(listEl, infoEl) {
    this.list = listEl;
    this.info = infoEl;
    this.chips = [];
    this.active = -1;
    this.seq = 0;
    listEl.addEventListener('keydown', (e) => this.onKey(e));
    listEl.addEventListener('focus', () => { if (this.active < 0 && this.chips.length) this.select(0); });
    listEl.addEventListener('mouseover', (e) => {
      const chip = e.target.closest?.('.chip');
      if (chip) this.describe(this.chips.indexOf(chip));
    });
  }

  clear(message = 'No tokens yet.') {
    this.list.replaceChildren();
    this.list.removeAttribute('aria-activedescendant');
    this.chips = [];
    this.active = -1;
    this.info.textContent = message;
  }

  /** add appends chips; kind is 'prompt' or 'out'; bytes may be null (filled later by setBytes). */
  add(ids, kind, bytesList, texts) {
    const frag = document.createDocumentFragment();
    const added = [];
    ids.forEach((id, i) => {
      const chip = document.createElement('span');
      chip.className = `chip ${kind}`;
      chip.id = `tok-${++this.seq}`;
      chip.setAttribute('role', 'option');
      chip.setAttribute('aria-selected', 'false');
      chip.dataset.id = String(id);
      const label = document.createElement('span');
      label.className = 'label';
      const idEl = document.createElement('span');
      idEl.className = 'id';
      idEl.textContent = String(id);
      chip.append(label, idEl);
      chip._kind = kind;
      chip._text = texts?.[i];
      this.fill(chip, bytesList?.[i] ?? null);
      frag.append(chip);
      added.push(chip);
    });
    this.list.append(frag);
    this.chips.push(...added);
    if (this.active < 0) this.summarize();
    return added;
  }

  summarize() {
    const prompt = this.chips.filter((c) => c._kind === 'prompt').length;
    this.info.textContent = `${prompt} prompt + ${this.chips.length - prompt} generated tokens`;
  }

  fill(chip, bytes) {
    chip._bytes = bytes;
    chip.firstChild.textContent = tokenLabel(bytes, chip._text);
    chip.title = this.describeChip(chip);
  }

  setBytes(chips, bytesList) {
    chips.forEach((chip, i) => this.fill(chip, bytesList[i] ?? null));
    if (this.active >= 0) this.describe(this.active);
  }

  describeChip(chip) {
    const where = chip._kind === 'prompt' ? 'prompt' : 'output';
    const bytes = chip._bytes ? `bytes ${hex(chip._bytes)}` : 'bytes unknown';
    return `${where} token, id ${chip.dataset.id}, ${bytes}`;
  }

  describe(i) {
    const chip = this.chips[i];
    if (!chip) return;
    this.info.textContent = `#${i} · ${this.describeChip(chip)} · “${chip.firstChild.textContent}”`;
  }

  select(i) {
    if (!this.chips.length) return;
    i = Math.max(0, Math.min(this.chips.length - 1, i));
    const prev = this.chips[this.active];
    if (prev) { prev.classList.remove('active'); prev.setAttribute('aria-selected', 'false'); }
    const chip = this.chips[i];
    chip.classList.add('active');
    chip.setAttribute('aria-selected', 'true');
    this.list.setAttribute('aria-activedescendant', chip.id);
    chip.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    this.active = i;
    this.describe(i);
  }

  onKey(e) {
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (e.key in moves) this.select(this.active + moves[e.key]);
    else if (e.key === 'Home') this.select(0);
    else if (e.key === 'End') this.select(this.chips.length - 1);
    else return;
    e.preventDefault();
  }
}
