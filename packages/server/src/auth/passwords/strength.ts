/**
 * Password strength (ASVS 6.2.4, 6.2.11, 6.2.12): new passwords are estimated with
 * zxcvbn-ts against its common-password list and English dictionaries, with the product
 * name and the user's email (and its local part) as context words. Too weak (score
 * below 3) gets InvalidArgument carrying the estimator's warning and suggestions. No
 * composition rules; the password is checked exactly as sent.
 *
 * The estimate is synchronous CPU work (tens to a few hundred milliseconds for long
 * passwords) and the dictionaries are large (~30 MB RSS), so both live in one worker
 * thread, loaded on the first check and stopped again after STRENGTH_WORKER_IDLE_MS
 * without one: a check never blocks the event loop, concurrent checks queue on that one
 * thread, and processes that see no sign-ups never pay the memory.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { Code, ConnectError } from "@connectrpc/connect";

/** Lowest accepted zxcvbn score (0..4): 3 = "safely unguessable" (about 10^8 guesses or more). */
const MIN_PASSWORD_SCORE = 3;
/** Context words every password is compared against. */
const PRODUCT_WORDS: readonly string[] = Object.freeze(["tessera"]);
/** Characters of a password the estimator looks at (longer ones are estimated on their start: bounded work). */
const ESTIMATE_MAX_CHARS = 64;

/** The estimate of a password: score 0..4 and the estimator's feedback. */
export interface PasswordEstimate {
  score: number;
  warning: string | null;
  suggestions: string[];
}

// Plain CommonJS run in the worker: loads the dictionaries once, answers checks in order.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const core = require(workerData.core);
const common = require(workerData.common);
const en = require(workerData.en);
const z = new core.ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: en.translations,
  maxLength: workerData.maxLength,
  l33tMaxSubstitutions: 12,
});
parentPort.on("message", (m) => {
  try {
    const r = z.check(m.password, m.inputs);
    parentPort.postMessage({ id: m.id, score: r.score, warning: r.feedback.warning || null, suggestions: r.feedback.suggestions });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
  }
});
`;

type Pending = { resolve: (e: PasswordEstimate) => void; reject: (e: Error) => void };

/**
 * The worker stops after this long without a check, giving its ~70 MB back: most
 * processes see sign-ups and password changes rarely, and reloading costs about a second.
 */
const STRENGTH_WORKER_IDLE_MS = 30_000;

interface StrengthWorker {
  worker: Worker;
  pending: Map<number, Pending>;
  idleTimer: NodeJS.Timeout | undefined;
}

let current: StrengthWorker | undefined;
let nextId = 0;

function startWorker(): StrengthWorker {
  const require = createRequire(import.meta.url);
  const w = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      core: require.resolve("@zxcvbn-ts/core"),
      common: require.resolve("@zxcvbn-ts/language-common"),
      en: require.resolve("@zxcvbn-ts/language-en"),
      maxLength: ESTIMATE_MAX_CHARS,
    },
  });
  w.unref();
  const sw: StrengthWorker = { worker: w, pending: new Map(), idleTimer: undefined };
  w.on("message", (m: { id: number; error?: string } & PasswordEstimate) => {
    const p = sw.pending.get(m.id);
    if (!p) return;
    sw.pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve({ score: m.score, warning: m.warning, suggestions: m.suggestions });
    if (sw.pending.size === 0) {
      sw.idleTimer = setTimeout(() => {
        if (current === sw) current = undefined;
        void w.terminate();
      }, STRENGTH_WORKER_IDLE_MS);
      sw.idleTimer.unref();
    }
  });
  const fail = (e: Error) => {
    if (current === sw) current = undefined;
    clearTimeout(sw.idleTimer);
    for (const p of sw.pending.values()) p.reject(e);
    sw.pending.clear();
  };
  w.on("error", fail);
  w.on("exit", () => fail(new Error("password strength worker exited")));
  return sw;
}

/** The context words of a user: the product name, the email and its local part (and the local part's pieces). */
export function contextWords(email: string | null | undefined): string[] {
  const words = [...PRODUCT_WORDS];
  if (email) {
    const e = email.trim().toLowerCase();
    words.push(e);
    const at = e.lastIndexOf("@");
    if (at > 0) {
      const local = e.slice(0, at);
      words.push(local, ...local.split(/[._+-]+/).filter((w) => w.length >= 3));
    }
  }
  return words;
}

/** Estimates a password's strength against the dictionaries and the user's context words. */
export function estimatePassword(password: string, email?: string | null): Promise<PasswordEstimate> {
  current ??= startWorker();
  const sw = current;
  clearTimeout(sw.idleTimer);
  const id = nextId++;
  return new Promise<PasswordEstimate>((resolve, reject) => {
    sw.pending.set(id, { resolve, reject });
    sw.worker.postMessage({ id, password, inputs: contextWords(email) });
  });
}

/** Throws InvalidArgument saying why when the password is too guessable (score below 3). */
export async function checkPasswordStrength(password: string, email?: string | null): Promise<void> {
  let est: PasswordEstimate;
  try {
    est = await estimatePassword(password, email);
  } catch {
    throw new ConnectError("password strength could not be checked", Code.Unavailable);
  }
  if (est.score >= MIN_PASSWORD_SCORE) return;
  const why = [est.warning, ...est.suggestions].filter((s): s is string => !!s);
  const detail = why.length > 0 ? why.join(" ") : "Add more words or characters that are hard to guess.";
  throw new ConnectError(`password is too weak: ${detail}`, Code.InvalidArgument);
}
