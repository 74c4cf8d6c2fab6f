/** What the scenarios share: the procedures under load, the open-loop settings, the bench password. */

/** CheckToken: the call every authenticated scenario loads. */
export const CHECK = "/tessera.v1.AuthService/CheckToken";
/** GetAuthConfig: public, no authentication (scenario 1). */
export const CONFIG = "/tessera.v1.AuthService/GetAuthConfig";
/** Login with email and password (scenario 6). */
export const LOGIN = "/tessera.v1.AuthService/Login";
/** Offered rate of the open-loop variants of scenarios 5 and 6 (req/s). */
export const FIXED_RATE = 200;
/**
 * Connections of the open-loop runs. autocannon paces each connection separately and
 * they fire together, so 50 connections at 200 req/s would arrive as bursts of 50 and
 * measure the burst; 4 keep bursts small while still letting slow requests overlap.
 */
export const FIXED_CONNECTIONS = 4;
/** The password of the bench owner and of scenario 6's login users. */
export const BENCH_PASSWORD = "Bench-password-7Qz!k9#Lm2";

/** An `Authorization: Bearer` header. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
