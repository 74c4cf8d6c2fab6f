/**
 * A Kysely plugin that times every query (from compilation to its result) into
 * `tessera_db_query_duration_seconds`. Failed queries are not timed: their errors
 * surface as RPC codes (Unavailable) in `tessera_rpc_requests_total`.
 */
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";
import type { Metrics } from "./metrics.js";

/** The plugin; add it with `kysely.withPlugin(queryTimer(metrics))`. */
export function queryTimer(metrics: Metrics): KyselyPlugin {
  const started = new WeakMap<object, number>();
  return {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      started.set(args.queryId, performance.now());
      return args.node;
    },
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      const t = started.get(args.queryId);
      if (t !== undefined) {
        started.delete(args.queryId);
        metrics.dbQuery((performance.now() - t) / 1000);
      }
      return args.result;
    },
  };
}
