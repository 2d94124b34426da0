import { createSourceEventStream, execute, print } from 'graphql';
import type { ExecutionArgs, ExecutionResult } from 'graphql';
import type { PubSubEngine } from 'graphql-subscriptions';
import { DirectSubscription, endAtExpiry, serializeResult } from '@phos/shared';
import type { Logger } from '@phos/shared';
import type WebSocket from 'ws';

/**
 * What a subscription field's `subscribe` resolver returns to be served by {@link createSharedSubscribe}: the
 * pubsub topic of its events, once the resolver has checked the caller's access. (It is async-iterable only so
 * that graphql-js accepts it; the shared subscribe reads the topic itself.)
 */
export class SharedTopic implements AsyncIterable<never> {
  constructor(
    readonly topic: string,
    /** When the caller's token expires: the subscription ends then with UNAUTHENTICATED. */
    readonly expiresAt: number | undefined,
    /** Called once when the subscription ends, however it ends (the client, its socket, expiry, a stop). */
    readonly onEnd?: () => void,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<never> {
    throw new Error('A SharedTopic is served by createSharedSubscribe, not iterated.');
  }
}

/** Where a graphql-ws subscription's `next` messages go: set on the operation's context by `onSubscribe`. */
export interface Delivery {
  socket: WebSocket;
  id: string;
}

export interface SharedSubscribeOptions {
  pubsub: PubSubEngine;
  /** The subscription's socket and id, from the operation's context. */
  deliveryOf: (args: ExecutionArgs) => Delivery | undefined;
  /**
   * What, besides the operation and its variables, a result may depend on (the caller's role, say): results
   * are shared only between subscribers with the same answer. Never the caller's identity.
   */
  audienceOf: (args: ExecutionArgs) => string;
  /** `extensions` to send with an event's result (its `traceparent`, say), read from the event. */
  extensionsOf?: (event: unknown) => Record<string, unknown> | undefined;
  logger: Logger;
}

/**
 * graphql-ws's `subscribe`, serving each event once per distinct operation rather than once per subscriber.
 * Each subscriber still subscribes with its own context, so the field's `subscribe` resolver checks its access
 * (and reads its token's expiry). The resolver returns a {@link SharedTopic}, and the subscriber joins the
 * group of subscribers with the same topic, operation, variables and audience: the group listens to the topic
 * once, executes each event once, serializes the result once and writes one frame per subscriber straight to
 * its socket.
 */
export function createSharedSubscribe(options: SharedSubscribeOptions) {
  const groups = new Map<string, TopicGroup>();
  const printed = new WeakMap<object, string>();

  return async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    // Refused by the resolver (access) or by graphql-js: the errors go back as they are.
    if (!(source instanceof SharedTopic)) {
      if (!(Symbol.asyncIterator in source)) return source as ExecutionResult;
      throw new Error('Subscription fields served by the shared subscribe return a SharedTopic.');
    }
    const delivery = options.deliveryOf(args);
    if (!delivery) throw new Error('A shared subscription needs its socket and id on the context.');
    let document = printed.get(args.document);
    if (document === undefined) printed.set(args.document, (document = print(args.document)));
    const key = JSON.stringify([source.topic, document, args.operationName ?? null, args.variableValues ?? {}, options.audienceOf(args)]);
    let group = groups.get(key);
    if (!group) {
      // The group outlives its first subscriber: it keeps that subscriber's arguments, not its socket.
      const shared: ExecutionArgs = { ...args, contextValue: { ...(args.contextValue as object), delivery: undefined } };
      const created: TopicGroup = new TopicGroup(source.topic, shared, options, () => groups.get(key) === created && groups.delete(key));
      groups.set(key, (group = created));
    }
    const owner = group;
    const subscription: DirectSubscription = new DirectSubscription(delivery.socket, delivery.id, () => {
      owner.leave(subscription);
      source.onEnd?.();
    });
    await owner.join(subscription);
    // It yields nothing (its events go straight to the socket), so it fits any result type.
    return endAtExpiry(subscription, source.expiresAt) as AsyncIterableIterator<ExecutionResult>;
  };
}

/** Subscribers of one topic with the same operation, variables and audience: one listener, one execution per event. */
class TopicGroup {
  private readonly members = new Set<DirectSubscription>();
  private listening: Promise<number> | undefined;
  /** Events are executed one after another, so subscribers see them in the order they were published. */
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly topic: string,
    /** The first subscriber's: the result depends only on what the group's key holds. */
    private readonly args: ExecutionArgs,
    private readonly options: SharedSubscribeOptions,
    private readonly onEmpty: () => void,
  ) {}

  async join(member: DirectSubscription): Promise<void> {
    this.members.add(member);
    this.listening ??= this.options.pubsub.subscribe(this.topic, (event: unknown) => this.enqueue(event), {});
    try {
      await this.listening;
    } catch (error) {
      this.members.delete(member);
      this.listening = undefined;
      if (this.members.size === 0) this.onEmpty();
      throw error;
    }
  }

  leave(member: DirectSubscription): void {
    if (!this.members.delete(member) || this.members.size > 0) return;
    this.onEmpty();
    const listening = this.listening;
    this.listening = undefined;
    void listening?.then((id) => this.options.pubsub.unsubscribe(id)).catch(() => undefined);
  }

  private enqueue(event: unknown): void {
    this.pending = this.pending
      .then(() => this.deliver(event))
      .catch((error: unknown) => this.options.logger.error({ err: error, topic: this.topic }, 'Delivering a subscription event failed'));
  }

  private async deliver(event: unknown): Promise<void> {
    if (this.members.size === 0) return;
    const result = await execute({ ...this.args, rootValue: event });
    const extensions = this.options.extensionsOf?.(event);
    const payload = serializeResult(extensions ? { ...result, extensions: { ...result.extensions, ...extensions } } : result);
    for (const member of this.members) member.sendSerialized(payload);
  }
}
