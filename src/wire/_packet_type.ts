/**
 * The packet types of {@linkcode PacketType} (types.ts) as module constants,
 * for the library's own code. Import the module as a namespace,
 * `import * as PacketType from "../wire/_packet_type.ts"`, and write
 * `PacketType.Publish` as with the public object: a bundler inlines each use
 * as a number and leaves the public object out of a bundle that does not use
 * it. tests/wire/constants_test.ts checks that both agree.
 *
 * @module
 */

export const Connect = 1 as const;
export const Connack = 2 as const;
export const Publish = 3 as const;
export const Puback = 4 as const;
export const Pubrec = 5 as const;
export const Pubrel = 6 as const;
export const Pubcomp = 7 as const;
export const Subscribe = 8 as const;
export const Suback = 9 as const;
export const Unsubscribe = 10 as const;
export const Unsuback = 11 as const;
export const Pingreq = 12 as const;
export const Pingresp = 13 as const;
export const Disconnect = 14 as const;
export const Auth = 15 as const;
