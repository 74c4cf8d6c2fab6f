/**
 * Who may start a TOTP enrolment (issue 18, security review): a stolen token alone must
 * not turn TOTP on with the thief's app (the owner would be locked out until an instance
 * admin runs ResetUserMfa). A user with a password gives it, verified as ChangePassword
 * verifies the current one (one argon2id verification, the same answer when wrong, and
 * the same 10-a-minute-per-network limit in abuse/interceptor.ts); a user without one
 * (provider-only) must hold a session signed in within the last 15 minutes.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { checkPasswordBytes, passwordHashing } from "../../auth/passwords/hashing.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import type { Deps } from "../../deps.js";
import { findFamily } from "../../store/sessions.js";
import type { UserRow } from "../../store/schema.js";

/** How recent a provider-only user's sign-in must be to start an enrolment. */
const ENROLMENT_FRESH_SIGN_IN_MS = 15 * 60_000;

/** Why an enrolment was refused (audited as `mfa.failed`, `during: enrolment`). */
export type EnrolmentRefusal = "missing_password" | "wrong_password" | "sign_in_too_old";

/**
 * Checks the caller may start an enrolment; on refusal calls `failed` with the reason and
 * throws the answer.
 */
export async function checkEnrolmentReauth(
  deps: Pick<Deps, "db" | "clock">,
  ctx: HandlerContext,
  user: UserRow,
  password: string,
  failed: (reason: EnrolmentRefusal) => void,
): Promise<void> {
  if (user.password_hash !== null) {
    if (password === "") {
      failed("missing_password");
      throw new ConnectError("password is required to turn on two-step sign-in", Code.InvalidArgument);
    }
    checkPasswordBytes(password);
    if (!(await passwordHashing.verify(user.password_hash, password))) {
      failed("wrong_password");
      throw new ConnectError("current password is incorrect", Code.InvalidArgument);
    }
    return;
  }
  const p = requirePrincipal(ctx);
  const family = p.kind === "user" && p.sessionId ? await findFamily(deps.db.kysely, p.sessionId) : undefined;
  const fresh = family !== undefined && family.user_id === user.id && deps.clock().getTime() - family.created_at.getTime() <= ENROLMENT_FRESH_SIGN_IN_MS;
  if (!fresh) {
    failed("sign_in_too_old");
    throw new ConnectError("sign in again to turn on two-step sign-in", Code.PermissionDenied);
  }
}
