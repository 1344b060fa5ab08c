import { describe, expect, it } from 'vitest';
import { InvocationAbort } from '../src/invocation-abort.js';

describe('InvocationAbort', () => {
  it('runs each listener once, in the order added, and not those removed', () => {
    const a = new InvocationAbort();
    const seen: string[] = [];
    const one = () => seen.push('one');
    const two = () => seen.push('two');
    const gone = () => seen.push('gone');
    a.addEventListener('abort', one);
    a.addEventListener('abort', gone);
    a.addEventListener('abort', two);
    a.addEventListener('abort', one); // added twice: runs once, as with an AbortSignal
    a.removeEventListener('abort', gone);
    expect(a.aborted).toBe(false);
    const reason = new DOMException('deadline', 'TimeoutError');
    a.abort(reason);
    a.abort(new Error('later'));
    expect(seen).toEqual(['one', 'two']);
    expect(a.aborted).toBe(true);
    expect(a.reason).toBe(reason);
    a.addEventListener('abort', gone);
    a.abort(new Error('again'));
    expect(seen).toEqual(['one', 'two']);
  });

  it('its AbortSignal, made before or after the abort, aborts with the same reason', () => {
    const before = new InvocationAbort();
    const signal = before.signal;
    let heard: unknown;
    signal.addEventListener('abort', () => (heard = signal.reason), { once: true });
    expect(signal.aborted).toBe(false);
    before.abort('why');
    expect(signal.aborted).toBe(true);
    expect(heard).toBe('why');
    expect(before.signal).toBe(signal);

    const after = new InvocationAbort();
    after.abort('late');
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toBe('late');
  });
});
