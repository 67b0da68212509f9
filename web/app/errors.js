// Plain-language messages for each error type of the alibi.js API.

const advice = {
  download: ['Download failed',
    'Check the address and your connection. A model on another site must allow cross-origin requests (CORS).'],
  integrity: ['Integrity check failed',
    'A downloaded piece did not match its SHA-256 checksum, so it was thrown away. Try again; if it keeps failing the files on the server are inconsistent.'],
  memory: ['Not enough memory',
    'The model does not fit in the memory this tab can use. Try int8 weights (about 4× smaller) or a smaller model.'],
  unsupported: ['Unsupported model',
    'This architecture or file variant is not supported. Supported families: BLOOM.'],
  format: ['Not a valid model',
    'The files could not be read as a model. Provide config.json, tokenizer.json and model.safetensors (or a manifest.json web directory).'],
  context: ['Too long for the context',
    'The prompt plus max tokens is longer than the context this model was loaded with. Shorten the prompt or lower max tokens.'],
  aborted: ['Stopped', 'The operation was cancelled.'],
};

/** errorType returns the API error type of err, or '' for other errors. */
export function errorType(err) {
  if (!err) return '';
  if (typeof err.type === 'string' && err.type) return err.type;
  if (err.name === 'AbortError') return 'aborted';
  return '';
}

/** describeError -> { type, title, detail, message } for display. */
export function describeError(err) {
  const type = errorType(err);
  const [title, detail] = advice[type] ?? ['Something went wrong', 'An unexpected error happened; the browser console has details.'];
  const message = String(err?.message ?? err ?? '');
  return { type: type || 'unknown', title, detail, message };
}

/**
 * showError fills el (a hidden-able element) with the description, as text.
 * Error messages can quote file contents, so nothing here is parsed as HTML.
 */
export function showError(el, err) {
  const d = describeError(err);
  el.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = `${d.title}. `;
  el.append(strong, document.createTextNode(d.detail));
  if (d.message) {
    const msg = document.createElement('span');
    msg.className = 'error-message';
    msg.textContent = ` (${d.message})`;
    el.append(msg);
  }
  el.dataset.errorType = d.type;
  el.hidden = false;
  return d;
}

export function clearError(el) {
  el.hidden = true;
  el.replaceChildren();
  delete el.dataset.errorType;
}
