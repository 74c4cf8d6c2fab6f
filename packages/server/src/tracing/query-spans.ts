/**
 * A Kysely plugin that makes a `db.query` span, a child of the active one (the RPC's), for
 * every query: the database system and the operation (`select`, `insert`, ...), never the
 * SQL's parameters. A failed query's span is not exported: its RPC span says how it ended.
 */
import { context, type Span, trace } from "@opentelemetry/api";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";

const OPERATIONS: Readonly<Record<string, string>> = {
  SelectQueryNode: "select",
  InsertQueryNode: "insert",
  UpdateQueryNode: "update",
  DeleteQueryNode: "delete",
  MergeQueryNode: "merge",
  RawNode: "raw",
};

/** The plugin; `kind` is the database (`postgres` or `pglite`). */
export function querySpans(kind: string): KyselyPlugin {
  const spans = new WeakMap<object, Span>();
  const system = kind === "postgres" ? "postgresql" : "pglite";
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      const operation = OPERATIONS[args.node.kind] ?? args.node.kind;
      spans.set(
        args.queryId,
        trace.getTracer("tessera").startSpan("db.query", { attributes: { "db.system.name": system, "db.operation.name": operation } }, context.active()),
      );
      return args.node;
    },
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      const span = spans.get(args.queryId);
      spans.delete(args.queryId);
      span?.setAttribute("db.response.returned_rows", args.result.rows.length);
      span?.end();
      return args.result;
    },
  };
}
