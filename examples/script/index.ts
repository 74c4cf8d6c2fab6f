// Who am I? Prints what Tessera knows about the API key in TESSERA_API_KEY.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ConnectError, createTesseraClient, PrincipalKind } from "tessera/sdk/node";

const tessera = createTesseraClient({ baseUrl: process.env.TESSERA_API_URL ?? "http://localhost:8080", apiKey: process.env.TESSERA_API_KEY });
try {
  const me = await tessera.auth.checkToken({});
  const expires = me.expiresAt ? timestampDate(me.expiresAt).toISOString() : "never";
  console.log(`user ${me.userId} (${PrincipalKind[me.principalKind]}) account ${me.accountId || "-"} key ${me.apiKeyId || "-"} expires ${expires}`);
} catch (e) {
  console.error(`CheckToken failed: ${ConnectError.from(e).message}`);
  process.exitCode = 1;
}
