/**
 * A token given as text or as `Redacted`, as plain text (or undefined when none is given).
 *
 * @internal
 */
import { Redacted } from "effect"

export const tokenText = (token: string | Redacted.Redacted<string> | undefined): string | undefined =>
  token === undefined ? undefined : Redacted.isRedacted(token) ? Redacted.value(token) : token
