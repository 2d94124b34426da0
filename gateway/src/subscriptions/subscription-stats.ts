/** What the gateway's subscription machinery holds open: every count returns to 0 when all clients leave. */
export interface SubscriptionStats {
  /** Client WebSockets connected to the gateway. */
  clientSockets: number;
  /** Subscriptions clients have running through the gateway. */
  clientSubscriptions: number;
  /** Upstream subscriptions to subgraphs: one per distinct operation, variables and authorization. */
  upstreamSubscriptions: number;
  /** WebSockets to subgraphs: at most one per subgraph and authorization. */
  upstreamSockets: number;
}

const sources = new Set<() => SubscriptionStats>();

/** Adds a running gateway's stats to {@link subscriptionStats}; the returned function removes them. */
export function registerSubscriptionStats(source: () => SubscriptionStats): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

/** The subscription stats of every gateway running in this process, summed (for leak checks and metrics). */
export function subscriptionStats(): SubscriptionStats {
  const total: SubscriptionStats = { clientSockets: 0, clientSubscriptions: 0, upstreamSubscriptions: 0, upstreamSockets: 0 };
  for (const source of sources) {
    const stats = source();
    for (const key of Object.keys(total) as (keyof SubscriptionStats)[]) total[key] += stats[key];
  }
  return total;
}
