/**
 * {@linkcode TopicTrie}: maps MQTT topic filters to values and finds, for an
 * inbound topic name, every value whose filter matches it (MQTT v5 §4.7).
 *
 * @module
 */

import { splitSharedFilter, topicFilterError } from "./validate.ts";

const DOLLAR = 0x24;

/**
 * Up to this many children a node keeps them in one small flat array, searched
 * by comparing each level in place (`startsWith` at an offset), which allocates
 * nothing; above it they move to a Map, and the topic level is sliced out once
 * and looked up. With topics decoded from the wire (not interned literals) the
 * in-place scan measured about twice as fast as slicing every level. Most nodes
 * of a large trie have one child (`fleet/s1/d7/telemetry`: `d7` has only
 * `telemetry`), and a Map per node would triple the memory of each filter.
 */
const SMALL_FANOUT = 4;

/**
 * The (value, filter) pairs that end at one place of the trie, flat: value,
 * filter, value, filter, ... (one array per place rather than an object and
 * two arrays). Buckets are replaced, never mutated, so a `match()` that is
 * iterating one is unaffected when its visitor adds or removes entries.
 */
type Bucket<T> = readonly (T | string)[];

/** One level of the trie. */
class Node<T> {
  /** Children by literal level, when there are more than `SMALL_FANOUT`. */
  children: Map<string, Node<T>> | undefined = undefined;
  /**
   * The children while there are at most `SMALL_FANOUT` (and some), flat:
   * level, node, level, node, ...
   */
  small: readonly (string | Node<T>)[] | undefined = undefined;
  /** The child for a `+` level. */
  plus: Node<T> | undefined = undefined;
  /** Filters that end at this node. */
  exact: Bucket<T> | undefined = undefined;
  /** Filters that end with a `#` level directly below this node. */
  hash: Bucket<T> | undefined = undefined;

  /** The child for the literal `level`, if any. */
  child(level: string): Node<T> | undefined {
    const small = this.small;
    if (small !== undefined) {
      for (let i = 0; i < small.length; i += 2) {
        if (small[i] === level) return small[i + 1] as Node<T>;
      }
      return undefined;
    }
    return this.children?.get(level);
  }

  /** Adds `node` as the child for the literal `level` (which it has not). */
  addChild(level: string, node: Node<T>): void {
    const children = this.children;
    if (children !== undefined) {
      children.set(level, node);
      return;
    }
    const small = this.small;
    if (small === undefined) {
      this.small = [level, node];
      return;
    }
    if (small.length < 2 * SMALL_FANOUT) {
      // Replaced, not mutated, like buckets; concat() allocates the exact
      // size where a spread or push() would reserve room for 16 more.
      this.small = small.concat(level, node);
      return;
    }
    const map = new Map<string, Node<T>>();
    for (let i = 0; i < small.length; i += 2) map.set(small[i] as string, small[i + 1] as Node<T>);
    map.set(level, node);
    this.children = map;
    this.small = undefined;
  }

  /** Removes the child for the literal `level`, if any. */
  deleteChild(level: string): void {
    const children = this.children;
    if (children !== undefined) {
      children.delete(level);
      if (children.size <= SMALL_FANOUT) {
        this.children = undefined;
        if (children.size > 0) {
          const small = new Array<string | Node<T>>(2 * children.size);
          let i = 0;
          for (const [level, node] of children) {
            small[i++] = level;
            small[i++] = node;
          }
          this.small = small;
        }
      }
      return;
    }
    const small = this.small;
    if (small === undefined) return;
    for (let i = 0; i < small.length; i += 2) {
      if (small[i] !== level) continue;
      this.small = small.length === 2 ? undefined : without(small, i, 2);
      return;
    }
  }

  /** Every literal child. */
  literalChildren(): Node<T>[] {
    if (this.children !== undefined) return Array.from(this.children.values());
    return (this.small ?? []).filter((_, i) => i % 2 === 1) as Node<T>[];
  }

  isEmpty(): boolean {
    return this.exact === undefined && this.hash === undefined && this.plus === undefined &&
      this.children === undefined && this.small === undefined;
  }
}

/** A copy of `array` without `count` items at `index`, at its exact size (see `addChild`). */
function without<E>(array: readonly E[], index: number, count: number): E[] {
  return array.slice(0, index).concat(array.slice(index + count));
}

/** SameValueZero, the equality of `Set` and `Map` keys. */
function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

/** The index of the pair in `bucket` (of its value), or -1. */
function indexOfPair<T>(bucket: Bucket<T>, value: T, filter: string): number {
  for (let i = 0; i < bucket.length; i += 2) {
    if (bucket[i + 1] === filter && sameValueZero(bucket[i], value)) return i;
  }
  return -1;
}

function emit<T>(bucket: Bucket<T>, visit: (value: T, filter: string) => void): void {
  for (let i = 0; i < bucket.length; i += 2) visit(bucket[i] as T, bucket[i + 1] as string);
}

/** The child of `node` for the topic level `topic[start, end)`, if any. */
function childFor<T>(
  node: Node<T>,
  topic: string,
  start: number,
  end: number,
): Node<T> | undefined {
  const small = node.small;
  if (small !== undefined) {
    const width = end - start;
    for (let i = 0; i < small.length; i += 2) {
      const level = small[i] as string;
      if (level.length === width && topic.startsWith(level, start)) return small[i + 1] as Node<T>;
    }
    return undefined;
  }
  return node.children?.get(topic.slice(start, end));
}

/**
 * Visits every filter below `node` matching the rest of `topic`, whose next
 * level starts at `pos`; `pos > topic.length` means every level is consumed.
 * It loops down the literal path and recurses only into `+` branches that sit
 * beside a literal child, so the stack stays shallow even for filters of
 * thousands of levels. [MQTT-4.7.3-4] levels compare as exact code units: no
 * normalization.
 */
function walk<T>(
  node: Node<T>,
  topic: string,
  pos: number,
  visit: (value: T, filter: string) => void,
): void {
  const length = topic.length;
  for (;;) {
    // [MQTT-4.7.1-1] '#' matches the remaining levels, however many, including
    // none: "a/#" matches "a" (its parent level), "a/b" and "a/b/c".
    if (node.hash !== undefined) emit(node.hash, visit);
    if (pos > length) {
      if (node.exact !== undefined) emit(node.exact, visit);
      return;
    }
    let end = topic.indexOf("/", pos);
    if (end < 0) end = length;
    const child = childFor(node, topic, pos, end);
    // [MQTT-4.7.1-2] '+' matches exactly one level, which may be empty.
    const plus = node.plus;
    if (child !== undefined) {
      if (plus !== undefined) walk(plus, topic, end + 1, visit);
      node = child;
    } else if (plus !== undefined) {
      node = plus;
    } else {
      return;
    }
    pos = end + 1;
  }
}

/** The part of a valid filter that is matched against topic names. */
function matchedPart(filter: string): string | undefined {
  const shared = splitSharedFilter(filter);
  if (shared === null) return undefined;
  return shared === undefined ? filter : shared.filter;
}

let countNodes: (trie: TopicTrie<unknown>) => number;

/**
 * Maps MQTT topic filters to values and dispatches topic names to them: the
 * structure a client uses to route an inbound PUBLISH to its subscriptions.
 *
 * Filters follow MQTT v5 §4.7: `+` matches exactly one level (possibly empty),
 * `#` matches its own level and every level below it, including none, so
 * `a/#` matches `a`, `a/b` and `a/b/c`. Filters whose first level is `+` or
 * `#` do not match topic names starting with `$` ([MQTT-4.7.2-1]), and levels
 * compare exactly, without any normalization ([MQTT-4.7.3-4]).
 *
 * A shared-subscription filter `$share/{group}/{rest}` is stored and matched as
 * `{rest}`, because a client receives a shared subscription's messages under
 * their plain topic names. It remains a filter of its own: `$share/g/a/+` and
 * `a/+` are two entries, and visitors receive the filter as it was added.
 *
 * Each filter may hold several values; values compare by SameValueZero, like
 * `Set` members. A value added under several filters that all match a topic is
 * visited once per filter: that is once per subscription, as a broker delivers
 * one copy per matching subscription.
 *
 * Matching costs O(levels of the topic × wildcard branches taken), independent
 * of how many filters are stored that do not match.
 *
 * @typeParam T The type of the values stored under the filters.
 *
 * @example Dispatch topics to handlers
 * ```ts
 * import { TopicTrie } from "@mqttv5/client/topic";
 *
 * const trie = new TopicTrie<string>();
 * trie.add("sensors/+/temperature", "thermometers");
 * trie.add("sensors/#", "everything");
 * trie.add("$share/workers/jobs/#", "jobs");
 *
 * trie.match("sensors/kitchen/temperature", (value, filter) => {
 *   console.log(value, filter); // "thermometers" "sensors/+/temperature" and "everything" "sensors/#"
 * });
 * console.log(trie.matches("jobs/42")); // ["jobs"]
 * console.log(trie.matches("sensors")); // ["everything"]: "#" also matches the parent level
 * ```
 */
export class TopicTrie<T> {
  #root: Node<T> = new Node();
  #size = 0;

  static {
    countNodes = (trie) => {
      const count = (node: Node<unknown>): number => {
        let n = 1;
        if (node.plus !== undefined) n += count(node.plus);
        for (const child of node.literalChildren()) n += count(child);
        return n;
      };
      return count(trie.#root);
    };
  }

  /**
   * The number of (filter, value) pairs stored.
   *
   * @example Usage
   * ```ts
   * import { TopicTrie } from "@mqttv5/client/topic";
   *
   * const trie = new TopicTrie<number>();
   * trie.add("a/b", 1);
   * trie.add("a/b", 1); // already there
   * trie.add("a/+", 1);
   * console.log(trie.size); // 2
   * ```
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Stores `value` under `filter`. Adding a pair that is already stored does
   * nothing. A `$share/{group}/{rest}` filter is matched as `{rest}`.
   *
   * @param filter A topic filter, validated by `topicFilterError`.
   * @param value The value to visit when a topic matches `filter`.
   * @throws {TypeError} When `filter` is not a valid topic filter
   * ([MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1], [MQTT-4.8.2-1],
   * [MQTT-4.8.2-2]); the trie is then unchanged.
   *
   * @example Usage
   * ```ts
   * import { TopicTrie } from "@mqttv5/client/topic";
   *
   * const trie = new TopicTrie<string>();
   * trie.add("home/+/light", "lights");
   * try {
   *   trie.add("home/#/light", "bad");
   * } catch (err) {
   *   console.log(err instanceof TypeError); // true
   * }
   * ```
   */
  add(filter: string, value: T): void {
    const error = topicFilterError(filter);
    if (error !== undefined) {
      throw new TypeError(`Invalid topic filter ${JSON.stringify(filter)}: ${error}`);
    }
    const levels = (matchedPart(filter) as string).split("/");
    let node = this.#root;
    const last = levels.length - 1;
    for (let i = 0; i < last; i++) node = this.#childOrNew(node, levels[i]);
    if (levels[last] === "#") {
      node.hash = this.#inserted(node.hash, value, filter);
    } else {
      node = this.#childOrNew(node, levels[last]);
      node.exact = this.#inserted(node.exact, value, filter);
    }
  }

  /**
   * Removes `value` from `filter`, and any part of the trie left empty.
   *
   * @param filter The filter exactly as it was given to {@linkcode TopicTrie.add}.
   * @param value The value to remove (compared by SameValueZero).
   * @returns `true` when the pair was stored, `false` otherwise (including for
   * invalid filters, which can never be stored).
   *
   * @example Usage
   * ```ts
   * import { TopicTrie } from "@mqttv5/client/topic";
   *
   * const trie = new TopicTrie<string>();
   * trie.add("a/#", "x");
   * console.log(trie.remove("a/#", "x")); // true
   * console.log(trie.remove("a/#", "x")); // false
   * console.log(trie.size); // 0
   * ```
   */
  remove(filter: string, value: T): boolean {
    const part = matchedPart(filter);
    if (part === undefined) return false;
    const levels = part.split("/");
    const last = levels.length - 1;
    const isHash = levels[last] === "#";
    const depth = isHash ? last : levels.length;
    // path[i] is the node reached after levels[0, i).
    const path: Node<T>[] = [this.#root];
    let node = this.#root;
    for (let i = 0; i < depth; i++) {
      const level = levels[i];
      const next = level === "+" ? node.plus : node.child(level);
      if (next === undefined) return false;
      path.push(next);
      node = next;
    }
    const bucket = isHash ? node.hash : node.exact;
    if (bucket === undefined) return false;
    const index = indexOfPair(bucket, value, filter);
    if (index < 0) return false;
    const remaining = bucket.length === 2 ? undefined : without(bucket, index, 2);
    if (isHash) node.hash = remaining;
    else node.exact = remaining;
    this.#size--;
    // Prune the nodes this removal left empty, deepest first.
    for (let i = depth; i > 0 && path[i].isEmpty(); i--) {
      const parent = path[i - 1];
      const level = levels[i - 1];
      if (level === "+") {
        parent.plus = undefined;
      } else {
        parent.deleteChild(level);
      }
    }
    return true;
  }

  /**
   * Removes every (filter, value) pair.
   *
   * @example Usage
   * ```ts
   * import { TopicTrie } from "@mqttv5/client/topic";
   *
   * const trie = new TopicTrie<number>();
   * trie.add("#", 1);
   * trie.clear();
   * console.log(trie.size, trie.matches("a")); // 0 []
   * ```
   */
  clear(): void {
    this.#root = new Node();
    this.#size = 0;
  }

  /**
   * Calls `visit` for every stored value whose filter matches `topic`, once per
   * (filter, value) pair, in no particular order. Allocates nothing for topics
   * whose levels meet nodes with few children.
   *
   * `topic` is a topic name as received; it is not validated (an empty topic
   * matches nothing). `visit` may add or remove entries; whether the running
   * match sees those changes is unspecified, but it never fails because of them.
   *
   * @param topic The topic name of an inbound message.
   * @param visit Called with each matching value and the filter it was added
   * under (including any `$share/{group}/` prefix).
   *
   * @example Count deliveries
   * ```ts
   * import { TopicTrie } from "@mqttv5/client/topic";
   *
   * const trie = new TopicTrie<(topic: string) => void>();
   * let calls = 0;
   * const handler = () => calls++;
   * trie.add("a/+", handler);
   * trie.add("a/#", handler);
   * trie.match("a/b", (fn) => fn("a/b"));
   * console.log(calls); // 2: once per matching filter
   * ```
   */
  match(topic: string, visit: (value: T, filter: string) => void): void {
    if (topic.length === 0) return;
    const root = this.#root;
    if (topic.charCodeAt(0) === DOLLAR) {
      // [MQTT-4.7.2-1] Filters starting with '#' or '+' do not match topic
      // names starting with '$': skip the root's wildcard branches.
      let end = topic.indexOf("/");
      if (end < 0) end = topic.length;
      const child = childFor(root, topic, 0, end);
      if (child !== undefined) walk(child, topic, end + 1, visit);
      return;
    }
    walk(root, topic, 0, visit);
  }

  /**
   * Collects the values whose filters match `topic`: a convenience over
   * {@linkcode TopicTrie.match}, which avoids the array. A value stored under
   * several matching filters appears once per filter; put the result in a
   * `Set` to deduplicate.
   *
   * @param topic The topic name of an inbound message.
   * @returns The matching values, in no particular order.
   *
   * @example Usage
   * ```ts
   * import { TopicTrie } from "@mqttv5/client/topic";
   *
   * const trie = new TopicTrie<string>();
   * trie.add("#", "all");
   * trie.add("$SYS/#", "sys");
   * console.log(trie.matches("$SYS/uptime")); // ["sys"]: "#" skips "$" topics
   * ```
   */
  matches(topic: string): T[] {
    const found: T[] = [];
    this.match(topic, (value) => {
      found.push(value);
    });
    return found;
  }

  #childOrNew(node: Node<T>, level: string): Node<T> {
    if (level === "+") return node.plus ??= new Node();
    let child = node.child(level);
    if (child === undefined) {
      child = new Node();
      node.addChild(level, child);
    }
    return child;
  }

  #inserted(bucket: Bucket<T> | undefined, value: T, filter: string): Bucket<T> {
    if (bucket === undefined) {
      this.#size++;
      return [value, filter];
    }
    if (indexOfPair(bucket, value, filter) >= 0) return bucket;
    this.#size++;
    // concat() adds the pair's two items (a value that is an array stays one item).
    return bucket.concat([value, filter]);
  }
}

/**
 * Test hook, not part of the public API (`mod.ts` does not export it): the
 * number of nodes in `trie`, the root included, so tests can observe that
 * {@linkcode TopicTrie.remove} prunes the nodes it empties.
 *
 * @param trie The trie to inspect.
 * @returns Its node count; 1 for an empty trie.
 */
export function _nodeCount<T>(trie: TopicTrie<T>): number {
  return countNodes(trie as TopicTrie<unknown>);
}
