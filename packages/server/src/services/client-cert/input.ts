/**
 * ClientCertService input rules: a mapping's name and what it matches. Every violation
 * is an InvalidArgument naming the field and the rule.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { CreateAccountClientCertRequest } from "@tessera/sdk/proto";
import { isThumbprint } from "../../auth/client-certs/thumbprint.js";
import type { ClientCertMatchKind } from "../../store/schema.js";
import { hasControlCharacters } from "../common/text.js";

const MAX_NAME_LENGTH = 100;
const MAX_MATCH_LENGTH = 1024;
/** A subjectAltName as Node shows it: `TYPE:value` (DNS, URI, email, IP Address, ...). */
const SAN_RE = /^[A-Za-z][A-Za-z ]{0,31}:\S/;

function invalidArgument(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Validates a mapping name: 1 to 100 characters, no control characters, not blank. */
export function validName(raw: string): string {
  const name = raw.trim();
  const length = [...name].length;
  if (length === 0) throw invalidArgument("name is required (1 to 100 characters)");
  if (length > MAX_NAME_LENGTH) throw invalidArgument("name must be at most 100 characters");
  if (hasControlCharacters(name)) throw invalidArgument("name must not contain control characters");
  return name;
}

/** Validates the `match` oneof into its stored kind and value. */
export function validMatch(match: CreateAccountClientCertRequest["match"]): { kind: ClientCertMatchKind; value: string } {
  switch (match.case) {
    case "thumbprint":
      if (!isThumbprint(match.value)) {
        throw invalidArgument("thumbprint must be the certificate's SHA-256 thumbprint: 43 characters of base64url (RFC 8705 x5t#S256)");
      }
      return { kind: "thumbprint", value: match.value };
    case "subject":
    case "subjectAltName": {
      const field = match.case === "subject" ? "subject" : "subject_alt_name";
      const value = match.value;
      if (value.trim() === "" || value.length > MAX_MATCH_LENGTH) throw invalidArgument(`${field} must be 1 to ${MAX_MATCH_LENGTH} characters`);
      if (hasControlCharacters(value)) throw invalidArgument(`${field} must not contain control characters`);
      if (match.case === "subjectAltName" && !SAN_RE.test(value))
        throw invalidArgument("subject_alt_name must be TYPE:value, e.g. URI:spiffe://example.org/worker");
      return { kind: match.case === "subject" ? "subject" : "san", value };
    }
    default:
      throw invalidArgument("one of thumbprint, subject or subject_alt_name is required");
  }
}
