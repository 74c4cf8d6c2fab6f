// Who am I? Prints what Tessera knows about the API key in TESSERA_API_KEY.
import { createTesseraClient, PrincipalKind } from "@tessera/sdk/node";

const tessera = createTesseraClient({ baseUrl: process.env.TESSERA_API_URL ?? "http://localhost:8080", apiKey: process.env.TESSERA_API_KEY });
const me = await tessera.auth.checkToken({}).catch((e) => {
  console.error(`CheckToken failed: ${e.message}`);
  process.exit(1);
});
const expires = me.expiresAt ? new Date(Number(me.expiresAt.seconds) * 1000).toISOString() : "never";
console.log(`user ${me.userId} (${PrincipalKind[me.principalKind]}) account ${me.accountId || "-"} key ${me.apiKeyId || "-"} expires ${expires}`);
