import type { EtcdClient } from '@coordkit/core';
import { type DecodedBatch, decodeStored } from './decoded-batch.js';
import { lostHistory, readCurrentRevision, readRetained, readTrimmedThrough } from './history.js';
import type { TopicLayout } from './layout.js';
import { type FeedMember, joinPrivateFeed, joinSharedFeed } from './topic-feed.js';

/** What positioning needs from the subscription it positions. */
export interface PositionContext {
  readonly client: EtcdClient;
  readonly layout: TopicLayout;
  readonly what: string;
  /**
   * Makes `member` the subscription's live source, leaving the one it replaces; throws `CLOSED` (after
   * leaving `member`) once the subscription is closed, so a close during positioning leaks no watch.
   */
  use(member: FeedMember): void;
}

/** Where delivery starts. */
export interface Position {
  /** The first revision the live source delivers; everything before it is in `backlog` or not wanted. */
  readonly next: bigint;
  /** Stored messages to deliver before the live source, one batch per revision, in publish order. */
  readonly backlog: DecodedBatch[];
}

// Every start joins the shared feed and waits for its position *before* reading anything from etcd:
// the feed then covers every revision after that position, so whatever the read returns (a newer
// revision), the live stream continues right after it without a gap.

/** `'latest'`: messages published after this call; etcd's revision "now" is the position. */
export async function positionLatest(ctx: PositionContext): Promise<Position> {
  const { feed, member, created } = joinSharedFeed(ctx.client, ctx.layout);
  ctx.use(member);
  const joinedAt = await member.start;
  // A feed started by this call was confirmed after the call, so its position is "now". A feed that
  // already ran may lag behind etcd: ask etcd, so that a message whose publish completed before this
  // call is not delivered as if published after it.
  const now = created
    ? joinedAt
    : await feed.currentRevision(() => readCurrentRevision(ctx.client, ctx.layout, ctx.what));
  return live(ctx, member, joinedAt, now + 1n, []);
}

/** `'earliest'`: every retained message (one read at one revision), then the live stream after that revision. */
export async function positionEarliest(ctx: PositionContext): Promise<Position> {
  const { member } = joinSharedFeed(ctx.client, ctx.layout);
  ctx.use(member);
  const joinedAt = await member.start;
  const retained = await readRetained(ctx.client, ctx.layout, ctx.what);
  const backlog = decodeStored(retained.messages.filter((m) => m.revision > retained.trimmedThrough));
  return live(ctx, member, joinedAt, retained.revision + 1n, backlog);
}

/** A revision: every message published at or after `next`; `COMPACTED` if some of them were trimmed. */
export async function positionAt(ctx: PositionContext, next: bigint): Promise<Position> {
  const { member } = joinSharedFeed(ctx.client, ctx.layout);
  ctx.use(member);
  const [trimmedThrough, joinedAt] = await Promise.all([
    readTrimmedThrough(ctx.client, ctx.layout, ctx.what),
    member.start,
  ]);
  if (next <= trimmedThrough) throw lostHistory(ctx.what, next, trimmedThrough + 1n);
  return live(ctx, member, joinedAt, next, []);
}

/**
 * After etcd compacted history the live source needed: messages are still keys unless trimmed, so
 * the retained ones from `next` on are re-read and delivered, then the live stream continues after
 * the read. The read's revision is the backlog's last (empty) batch, so taking it moves the position.
 */
export async function positionAfterCompaction(ctx: PositionContext, next: bigint): Promise<Position> {
  const { member } = joinSharedFeed(ctx.client, ctx.layout);
  ctx.use(member);
  const joinedAt = await member.start;
  const retained = await readRetained(ctx.client, ctx.layout, ctx.what);
  if (next <= retained.trimmedThrough) throw lostHistory(ctx.what, next, retained.trimmedThrough + 1n);
  const backlog = decodeStored(retained.messages.filter((m) => m.revision >= next));
  backlog.push({ revision: retained.revision, entries: [] });
  return live(ctx, member, joinedAt, retained.revision + 1n, backlog);
}

/**
 * Keeps the shared feed when it delivers everything from `next` on (dropping what comes before), or
 * replaces it with a private feed starting at `next` when the shared one is already past it.
 */
function live(
  ctx: PositionContext,
  shared: FeedMember,
  joinedAt: bigint,
  next: bigint,
  backlog: DecodedBatch[],
): Position {
  if (joinedAt < next) shared.skipBelow = next;
  else ctx.use(joinPrivateFeed(ctx.client, ctx.layout, next));
  return { next, backlog };
}
