/**
 * Ordered, resumable publish/subscribe topics on etcd: one key per message, etcd's revision order as
 * the topic's order, bounded retention, and durable groups that resume where they stopped.
 * @packageDocumentation
 */
export type { Message } from './message.js';
export type { SubscribeOptions } from './subscribe-options.js';
export { Subscription } from './subscription.js';
export { MAX_BATCH, type PublishResult, type RetentionOptions, Topic, type TopicOptions } from './topic.js';
