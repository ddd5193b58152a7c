/**
 * MQTT v5 topic names and topic filters (§4.7, §4.8.2): validation, the
 * `$share/{group}/{filter}` split, and {@linkcode TopicTrie}, which dispatches
 * inbound topic names to the values of every matching filter.
 *
 * The validators return `undefined` for a valid input and a short reason
 * otherwise; {@linkcode TopicTrie.add} throws a `TypeError` for invalid filters.
 *
 * @example Validate, then route
 * ```ts
 * import { TopicTrie, topicFilterError, topicNameError } from "@mqttv5/client/topic";
 *
 * console.log(topicFilterError("home/+/temperature")); // undefined: valid
 * console.log(topicNameError("home/+")); // "topic names must not contain wildcards"
 *
 * const routes = new TopicTrie<string>();
 * routes.add("home/+/temperature", "climate");
 * routes.add("$share/loggers/home/#", "log");
 * routes.match("home/kitchen/temperature", (route, filter) => {
 *   console.log(route, filter); // "climate" "home/+/temperature", "log" "$share/loggers/home/#"
 * });
 * ```
 *
 * @module
 */

export { splitSharedFilter, topicFilterError, topicNameError } from "./validate.ts";
export { TopicTrie } from "./trie.ts";
export type { SharedFilter } from "./validate.ts";
