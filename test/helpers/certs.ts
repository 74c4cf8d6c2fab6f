/**
 * Certificates made in the test with openssl: a CA, a server certificate for localhost
 * and 127.0.0.1, client certificates from that CA (one current, one expired) and one from
 * another CA. Written as PEM files in a fresh temporary directory.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestCerts {
  dir: string;
  caCert: string;
  /** A second, unrelated CA. */
  otherCaCert: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  expiredClient: { cert: string; key: string };
  otherCaClient: { cert: string; key: string };
  /** Issues another server certificate (another CN) from the CA, or from the other CA: PEM paths. */
  issueServer(name: string, from?: "ca" | "other-ca"): { cert: string; key: string };
  /** Issues another client certificate from the CA (CN `name`, SAN `URI:spiffe://example.test/<name>`): PEM paths. */
  issueClient(name: string): { cert: string; key: string };
  /** PEM text of a file. */
  read(file: string): string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  );
}

/** Issues a leaf from CA `ca` with `openssl ca` (which can set any validity window). */
function issue(
  dir: string,
  ca: string,
  name: string,
  opts: { san?: string; clientAuth?: boolean; start?: string; end?: string },
): { cert: string; key: string } {
  openssl(
    dir,
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  );
  const ext = [
    "[ext]",
    "basicConstraints=CA:FALSE",
    `extendedKeyUsage=${opts.clientAuth ? "clientAuth" : "serverAuth"}`,
    ...(opts.san ? [`subjectAltName=${opts.san}`] : []),
  ].join("\n");
  const conf = [
    "[ca]",
    "default_ca=tca",
    "[tca]",
    `database=${ca}.index`,
    `serial=${ca}.serial`,
    "new_certs_dir=.",
    "default_md=sha256",
    "policy=any",
    "copy_extensions=none",
    "unique_subject=no",
    "[any]",
    "commonName=supplied",
    ext,
  ].join("\n");
  writeFileSync(path.join(dir, `${name}.cnf`), `${conf}\n`);
  const window = opts.start && opts.end ? ["-startdate", opts.start, "-enddate", opts.end] : ["-days", "2"];
  openssl(
    dir,
    "ca",
    "-batch",
    "-config",
    `${name}.cnf`,
    "-cert",
    `${ca}.pem`,
    "-keyfile",
    `${ca}.key`,
    "-extensions",
    "ext",
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.pem`,
    "-notext",
    ...window,
  );
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

/** Makes the certificates in a new temporary directory. */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-certs-"));
  for (const ca of ["ca", "other-ca"]) {
    makeCa(dir, ca);
    writeFileSync(path.join(dir, `${ca}.index`), "");
    writeFileSync(path.join(dir, `${ca}.serial`), `${ca === "ca" ? "1000" : "2000"}\n`);
  }
  const issueServer = (name: string, from: "ca" | "other-ca" = "ca") => issue(dir, from, name, { san: "DNS:localhost,IP:127.0.0.1" });
  return {
    dir,
    caCert: path.join(dir, "ca.pem"),
    otherCaCert: path.join(dir, "other-ca.pem"),
    server: issueServer("server"),
    client: issue(dir, "ca", "worker-1", { clientAuth: true, san: "URI:spiffe://example.test/worker-1" }),
    expiredClient: issue(dir, "ca", "expired-worker", { clientAuth: true, start: "20200101000000Z", end: "20200102000000Z" }),
    otherCaClient: issue(dir, "other-ca", "stranger", { clientAuth: true }),
    issueServer,
    issueClient: (name) => issue(dir, "ca", name, { clientAuth: true, san: `URI:spiffe://example.test/${name}` }),
    read: (file) => readFileSync(file, "utf8"),
  };
}
