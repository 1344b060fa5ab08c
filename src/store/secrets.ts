/**
 * Secret values of installed skills, set by the operator (`secret set`), read by the host when a
 * request's `{{secret:NAME}}` placeholder is substituted. Never readable by a skill: the file is
 * inside the agentos home, which no skill root may reach (protected-paths.ts).
 *
 * Kept in their own file, `<store>/secrets.json`, not in the SQLite store: its mode is 0600 in a
 * 0700 folder whatever the database's mode is, it never ends up in the database's WAL, copies or
 * `audit` exports, and wiping it wipes every secret. Writes are atomic (a 0600 temp file renamed
 * over) under a lock file, so two `secret set` processes never lose each other's write; reads
 * refuse a symlink and tighten a mode that grew group/other bits.
 * At rest the values are plain text protected by file permissions only (see the README).
 */
import { chmodSync, closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { StoreError } from '../errors.js';
import { SECRET_NAME_RE } from '../guards/secret-guard.js';
import { secretValueProblem } from '../secret-redactor.js';

export interface SecretInfo {
  /** The skill it belongs to. */
  skillId: string;
  name: string;
  /** ISO time it was last set. */
  setAt: string;
}

interface SecretFile {
  version: 1;
  skills: Record<string, Record<string, { value: string; setAt: string }>>;
}

const LOCK_WAIT_MS = 5_000;
const STALE_LOCK_MS = 30_000;

export class SecretStore {
  readonly file: string;

  constructor(storeDir: string) {
    this.file = path.join(storeDir, 'secrets.json');
  }

  set(skillId: string, name: string, value: string): void {
    if (!SECRET_NAME_RE.test(name)) throw new StoreError(`secret name ${JSON.stringify(name)} must match ${SECRET_NAME_RE.source}`, { skillId });
    const problem = secretValueProblem(value);
    if (problem) throw new StoreError(`secret ${name} of ${skillId} not set: ${problem}`, { skillId });
    this.update((f) => {
      (f.skills[skillId] ??= {})[name] = { value, setAt: new Date().toISOString() };
    });
  }

  /** False when it was not set. */
  delete(skillId: string, name: string): boolean {
    let had = false;
    this.update((f) => {
      const s = f.skills[skillId];
      if (!s || !Object.hasOwn(s, name)) return;
      had = true;
      delete s[name];
      if (Object.keys(s).length === 0) delete f.skills[skillId];
    });
    return had;
  }

  /** Every secret of a skill gone (uninstall). */
  deleteSkill(skillId: string): void {
    if (!this.read().skills[skillId]) return;
    this.update((f) => void delete f.skills[skillId]);
  }

  /** Names and times, never values; all skills when `skillId` is undefined. */
  list(skillId?: string): SecretInfo[] {
    const f = this.read();
    const out: SecretInfo[] = [];
    for (const [id, secrets] of Object.entries(f.skills)) {
      if (skillId !== undefined && id !== skillId) continue;
      for (const [name, s] of Object.entries(secrets)) out.push({ skillId: id, name, setAt: s.setAt });
    }
    return out.sort((a, b) => a.skillId.localeCompare(b.skillId) || a.name.localeCompare(b.name));
  }

  /** The value, for the host's substitution only. */
  get(skillId: string, name: string): string | undefined {
    const s = this.read().skills[skillId];
    return s && Object.hasOwn(s, name) ? s[name]!.value : undefined;
  }

  private read(): SecretFile {
    let fd: number;
    try {
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { version: 1, skills: {} };
      if (code === 'ELOOP') throw new StoreError(`${this.file} is a symlink; refusing to read secrets through it`);
      throw new StoreError(`cannot read ${this.file} (${code ?? 'error'})`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new StoreError(`${this.file} is not a regular file`);
      // Someone loosened it (a copy, a restore): back to owner-only before anything is read.
      if ((st.mode & 0o077) !== 0) chmodSync(this.file, 0o600);
      const parsed = JSON.parse(readFileSync(fd, 'utf8')) as SecretFile;
      if (parsed?.version !== 1 || typeof parsed.skills !== 'object' || parsed.skills === null) {
        throw new StoreError(`${this.file} is not a secrets file this version understands`);
      }
      return parsed;
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(`${this.file} is damaged (not JSON); remove it and set the secrets again`);
    } finally {
      closeSync(fd);
    }
  }

  /** Read, change, write atomically, under the lock. */
  private update(change: (f: SecretFile) => void): void {
    const dir = path.dirname(this.file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The folder usually exists already (the database's): make it the owner's alone too (the
    // file itself is 0600 either way; a folder owned by someone else is left as it is).
    try {
      chmodSync(dir, 0o700);
    } catch {
      /* not ours to change */
    }
    const release = this.lock();
    try {
      const f = this.read();
      change(f);
      const tmp = `${this.file}.${process.pid}.tmp`;
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, JSON.stringify(f));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.file);
    } finally {
      release();
    }
  }

  private lock(): () => void {
    const lockFile = `${this.file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        closeSync(openSync(lockFile, 'wx', 0o600));
        return () => rmSync(lockFile, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot lock ${lockFile}`);
        try {
          // A lock left by a crashed process.
          if (Date.now() - statSync(lockFile).mtimeMs > STALE_LOCK_MS) rmSync(lockFile, { force: true });
        } catch {
          /* gone meanwhile */
        }
        if (Date.now() > deadline) throw new StoreError(`${lockFile} is held by another process`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }
}
