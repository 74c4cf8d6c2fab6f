/**
 * The messages Tessera mails (issue 18), as plain text and HTML, with `{{name}}`
 * placeholders (escaped in HTML). Each kind can be overridden by files in
 * MAIL_TEMPLATES_DIR: `<kind>.subject.txt`, `<kind>.txt`, `<kind>.html` (any of them;
 * the rest stay built in), read once at startup.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** The kinds of mail. */
const MAIL_KINDS = ["verify-email", "signup-existing", "password-reset", "password-changed", "mfa-enabled", "mfa-disabled"] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

/** One kind's subject, text and HTML, with placeholders. */
interface Template {
  subject: string;
  text: string;
  html: string;
}

/** What a rendered mail holds. */
interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const page = (body: string) => `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">${body}</body></html>`;

const BUILT_IN: Record<MailKind, Template> = {
  "verify-email": {
    subject: "Confirm your email address",
    text: "Confirm that {{email}} is your address by opening this link within 24 hours:\n\n{{link}}\n\nIf you did not sign up, ignore this message.\n",
    html: page(
      '<p>Confirm that {{email}} is your address:</p><p><a href="{{link}}">Confirm my email address</a></p><p>The link works once, within 24 hours. If you did not sign up, ignore this message.</p>',
    ),
  },
  "signup-existing": {
    subject: "Someone tried to sign up with your email address",
    text: "Someone tried to create an account with {{email}}, which already has one. If it was you, sign in instead, or reset your password at:\n\n{{forgotLink}}\n\nIf it was not you, you need not do anything: no account was created.\n",
    html: page(
      '<p>Someone tried to create an account with {{email}}, which already has one.</p><p>If it was you, sign in instead, or <a href="{{forgotLink}}">reset your password</a>.</p><p>If it was not you, you need not do anything: no account was created.</p>',
    ),
  },
  "password-reset": {
    subject: "Reset your password",
    text: "Someone asked to reset the password of {{email}}. To choose a new one, open this link within 30 minutes:\n\n{{link}}\n\nIf it was not you, ignore this message: your password stays as it is.\n",
    html: page(
      '<p>Someone asked to reset the password of {{email}}.</p><p><a href="{{link}}">Choose a new password</a></p><p>The link works once, within 30 minutes. If it was not you, ignore this message: your password stays as it is.</p>',
    ),
  },
  "password-changed": {
    subject: "Your password was reset",
    text: "The password of {{email}} was reset, and every session signed in with it has ended. If you did not do this, reset your password again at once and contact your administrator:\n\n{{forgotLink}}\n",
    html: page(
      '<p>The password of {{email}} was reset, and every session signed in with it has ended.</p><p>If you did not do this, <a href="{{forgotLink}}">reset your password again</a> at once and contact your administrator.</p>',
    ),
  },
  "mfa-enabled": {
    subject: "Two-step sign-in was turned on",
    text: "Two-step sign-in (an authenticator app code) was turned on for {{email}}. From now on signing in asks for a code. If you did not do this, reset your password at once and contact your administrator:\n\n{{forgotLink}}\n",
    html: page(
      '<p>Two-step sign-in (an authenticator app code) was turned on for {{email}}. From now on signing in asks for a code.</p><p>If you did not do this, <a href="{{forgotLink}}">reset your password</a> at once and contact your administrator.</p>',
    ),
  },
  "mfa-disabled": {
    subject: "Two-step sign-in was turned off",
    text: "Two-step sign-in was turned off for {{email}}: signing in no longer asks for a code, and the recovery codes no longer work. If you did not do this, reset your password at once and contact your administrator:\n\n{{forgotLink}}\n",
    html: page(
      '<p>Two-step sign-in was turned off for {{email}}: signing in no longer asks for a code, and the recovery codes no longer work.</p><p>If you did not do this, <a href="{{forgotLink}}">reset your password</a> at once and contact your administrator.</p>',
    ),
  },
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function fill(template: string, vars: Readonly<Record<string, string>>, encode: (s: string) => string): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => encode(vars[name] ?? ""));
}

/** Renders mail kinds, built in or overridden by files. */
export interface Templates {
  render(kind: MailKind, vars: Readonly<Record<string, string>>): RenderedMail;
}

/** Loads the templates, with the overrides found in `dir` (read now, once). */
export function loadTemplates(dir: string | undefined): Templates {
  const templates = { ...BUILT_IN };
  if (dir !== undefined) {
    const readIf = (file: string) => {
      const p = path.join(dir, file);
      return existsSync(p) ? readFileSync(p, "utf8") : undefined;
    };
    for (const kind of MAIL_KINDS) {
      const b = BUILT_IN[kind];
      templates[kind] = {
        subject: readIf(`${kind}.subject.txt`)?.trim() ?? b.subject,
        text: readIf(`${kind}.txt`) ?? b.text,
        html: readIf(`${kind}.html`) ?? b.html,
      };
    }
  }
  return {
    render(kind, vars) {
      const t = templates[kind];
      return { subject: fill(t.subject, vars, (s) => s.replace(/[\r\n]/g, " ")), text: fill(t.text, vars, (s) => s), html: fill(t.html, vars, escapeHtml) };
    },
  };
}
