// Errors of the alibi runtime: every rejection is an AlibiError whose .type
// is one of TYPES (DESIGN.md §6).

export const TYPES = Object.freeze(['download', 'integrity', 'format', 'unsupported', 'memory', 'context', 'aborted']);

export class AlibiError extends Error {
  constructor(type, message, options) {
    super(message, options);
    this.name = 'AlibiError';
    this.type = TYPES.includes(type) ? type : 'format';
  }
}

// toAlibiError returns e as an AlibiError: errors from Go already carry a
// type; an AbortError becomes 'aborted'; a failed fetch becomes 'download';
// a RangeError from an allocation becomes 'memory'.
export function toAlibiError(e, fallback = 'format') {
  if (e instanceof AlibiError) return e;
  if (e && typeof e === 'object' && TYPES.includes(e.type)) return new AlibiError(e.type, e.message);
  if (e && (e.name === 'AbortError' || e.name === 'TimeoutError')) return new AlibiError('aborted', e.message || 'aborted');
  if (e && e.name === 'QuotaExceededError') return new AlibiError('memory', `storage quota exceeded: ${e.message}`);
  if (e instanceof RangeError && /alloc|memory|Array buffer/i.test(e.message)) return new AlibiError('memory', e.message);
  if (e instanceof TypeError && /fetch|network|Failed to|ECONN|socket/i.test(e.message)) return new AlibiError('download', e.message);
  return new AlibiError(fallback, e && e.message ? e.message : String(e));
}

// serializeError and deserializeError carry an error across postMessage.
export function serializeError(e) {
  const a = toAlibiError(e);
  return { type: a.type, message: a.message };
}

export function deserializeError(o) {
  return new AlibiError(o && o.type, o && o.message ? o.message : 'unknown error');
}

export function abortError(signal) {
  const r = signal && signal.reason;
  const msg = r && r.message ? r.message : 'aborted';
  return new AlibiError('aborted', msg);
}

export function throwIfAborted(signal) {
  if (signal && signal.aborted) throw abortError(signal);
}
