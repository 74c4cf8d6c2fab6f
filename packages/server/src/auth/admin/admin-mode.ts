/**
 * AUTH_MODE=admin (issue 13, findings 2 and 3): only the configured admin gets in.
 *
 * At every start in admin mode, in one transaction:
 * - the user with AUTH_ADMIN_EMAIL is created or updated: email as configured, instance
 *   admin, never left disabled, the password hash replaced when AUTH_ADMIN_PASSWORD no
 *   longer matches it;
 * - when the admin's password changed, or the admin is another user than at the last
 *   start (`configured_admin` remembers which), every session of the admin user ends and
 *   its access tokens issued before now are refused (`credentials_changed_at`);
 * - every other user loses the instance-admin flag and every session; the previous
 *   admin's end with `admin_replaced`, everyone else's with `auth_mode_admin`.
 *
 * While running, the AdminModeGate refuses any other user's access tokens and any API key
 * the configured admin did not create (refused, not deleted: moving back to full mode
 * gives them back). Each instance applies what its own configuration says when it starts.
 */
import type { AuthModeName } from "../../config/config.js";
import type { Deps } from "../../deps.js";
import { ensurePersonalAccount } from "../../store/accounts.js";
import {
  clearOtherInstanceAdmins,
  lockConfiguredAdmin,
  revokeSessionsOf,
  saveConfiguredAdmin,
  updateConfiguredAdminUser,
} from "../../store/configured-admin.js";
import { findPasswordUserByEmail, insertPasswordUser } from "../../store/users.js";
import { needsRehash, normalizeEmailInput, passwordHashing } from "../passwords/hashing.js";

/** The configured admin as startup left it. */
export interface ConfiguredAdmin {
  userId: string;
  /** Access tokens of the admin issued (`iat`, seconds) before this are refused. */
  tokensNotBefore: number;
}

/** Decides, in memory, which credentials an instance accepts in its auth mode. */
export interface AdminModeGate {
  /** Sets the configured admin (admin-mode startup). */
  admit(admin: ConfiguredAdmin): void;
  /** Why a Tessera access token of `userId` issued at `issuedAt` (seconds) is refused; undefined when accepted. */
  refuseUserToken(userId: string, issuedAt: number): string | undefined;
  /** Why an API key created by `createdById` is refused; undefined when accepted. */
  refuseApiKey(createdById: string | null): string | undefined;
}

/** Message for credentials of anyone but the configured admin. */
const ADMIN_ONLY = "only the configured admin is accepted while AUTH_MODE=admin";

/** Builds the gate: in modes other than admin it accepts everything. */
export function createAdminModeGate(mode: AuthModeName): AdminModeGate {
  let admin: ConfiguredAdmin | undefined;
  const on = mode === "admin";
  return {
    admit(a) {
      admin = Object.freeze({ ...a });
    },
    refuseUserToken(userId, issuedAt) {
      if (!on) return undefined;
      if (admin?.userId !== userId) return ADMIN_ONLY;
      if (issuedAt < admin.tokensNotBefore) return "access token issued before the admin credentials changed; sign in again";
      return undefined;
    },
    refuseApiKey(createdById) {
      if (!on) return undefined;
      if (admin === undefined || createdById !== admin.userId) return `${ADMIN_ONLY}: this API key was created by another user`;
      return undefined;
    },
  };
}

type AdminDeps = Pick<Deps, "config" | "db" | "clock" | "logger" | "audit">;

/** Creates or updates the configured admin and ends everyone else's access (see the file comment). */
export async function ensureConfiguredAdmin(deps: AdminDeps): Promise<ConfiguredAdmin> {
  const { config, clock, logger, audit } = deps;
  const kysely = deps.db.kysely;
  const email = config.admin ? normalizeEmailInput(config.admin.email) : undefined;
  if (!config.admin || !email) throw new Error("AUTH_ADMIN_EMAIL is not a valid email address");
  const { password } = config.admin;

  // A concurrent start of another instance may change the hash between reading and writing it: read again.
  for (let attempt = 0; attempt < 5; attempt++) {
    let user = await findPasswordUserByEmail(kysely, email.normalized);
    let created = false;
    if (!user) {
      user = await insertPasswordUser(kysely, {
        email: email.email,
        emailNormalized: email.normalized,
        name: "admin",
        passwordHash: await passwordHashing.hash(password),
        isInstanceAdmin: true,
      });
      created = user !== undefined;
      // Another instance created it concurrently: take that one.
      user ??= await findPasswordUserByEmail(kysely, email.normalized);
      if (!user) throw new Error("could not create the admin user");
    }
    const expectedHash = user.password_hash;
    const matches = created || (expectedHash !== null && (await passwordHashing.verify(expectedHash, password)));
    // Rehash when the configured password changed, or the stored hash is below the current cost.
    const newHash = matches && expectedHash !== null && !needsRehash(expectedHash) ? undefined : await passwordHashing.hash(password);
    const userId = user.id;
    const outcome = await kysely.transaction().execute(async (trx) => {
      const now = clock();
      const previous = await lockConfiguredAdmin(trx);
      if (!(await updateConfiguredAdminUser(trx, userId, { email: email.email, expectedHash, passwordHash: newHash, now }))) return undefined;
      const replaced = previous !== undefined && previous.user_id !== userId ? previous.user_id : undefined;
      const credentialsChanged = !matches || replaced !== undefined;
      const adminSessionsEnded = credentialsChanged ? await revokeSessionsOf(trx, { userId }, now, "admin_credentials_changed") : 0;
      const previousSessionsEnded = replaced ? await revokeSessionsOf(trx, { userId: replaced }, now, "admin_replaced") : 0;
      const otherSessionsEnded = await revokeSessionsOf(trx, { allBut: userId }, now, "auth_mode_admin");
      const adminsCleared = await clearOtherInstanceAdmins(trx, userId, now);
      const changedAt = credentialsChanged ? now : previous?.user_id === userId ? (previous.credentials_changed_at ?? null) : null;
      await saveConfiguredAdmin(trx, userId, changedAt, now);
      return { replaced, passwordChanged: !matches, adminSessionsEnded, previousSessionsEnded, otherSessionsEnded, adminsCleared, changedAt };
    });
    if (!outcome) continue;

    await ensurePersonalAccount(kysely, userId);
    const changed = outcome.replaced !== undefined || (outcome.passwordChanged && !created);
    const summary = {
      user_id: userId,
      previous_admin_id: outcome.replaced ?? null,
      password_changed: outcome.passwordChanged && !created,
      admin_sessions_ended: outcome.adminSessionsEnded,
      previous_admin_sessions_ended: outcome.previousSessionsEnded,
      other_sessions_ended: outcome.otherSessionsEnded,
      instance_admin_flags_cleared: outcome.adminsCleared,
    };
    if (changed) {
      logger.warn(summary, "admin credentials changed (AUTH_ADMIN_EMAIL / AUTH_ADMIN_PASSWORD): the admin's earlier sessions ended");
      audit.record({ action: "auth.admin.rotate.success", actorUserId: undefined, metadata: summary });
    } else if (newHash !== undefined && !created) {
      logger.info({ user_id: userId }, "admin password rehashed at the current cost");
    }
    if (outcome.otherSessionsEnded > 0 || outcome.adminsCleared > 0) {
      logger.warn(summary, "AUTH_MODE=admin: other users' sessions ended and instance-admin flags cleared; only the configured admin gets in");
      audit.record({ action: "auth.admin_mode.enforce.success", actorUserId: undefined, metadata: summary });
    }
    const changedAt = outcome.changedAt;
    return { userId, tokensNotBefore: changedAt ? Math.floor(changedAt.getTime() / 1000) : 0 };
  }
  throw new Error("could not update the admin user: its password kept changing concurrently");
}
