/**
 * Plain data (objects with `Object.prototype` or no prototype, and arrays): copying it for a run, and
 * finding a cycle in it. What a run copies is the initial state (per run) and, without an input schema,
 * the input; both may come from JSON, so a `__proto__` key is copied as a plain field and never replaces a
 * prototype. Instances of other classes are kept as they are.
 *
 * @internal
 */

const isPlainObject = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const define = (target: Record<string, unknown>, key: string, value: unknown): void => {
  // `target[key] = value` would call the `__proto__` setter: define the field instead.
  if (key === "__proto__")
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

/** Whether no field of `u` holds an object (so a copy of its fields is a deep copy). */
const isFlat = (u: object): boolean => {
  for (const key of Object.keys(u)) {
    const value = (u as Record<string, unknown>)[key]
    if (value !== null && typeof value === "object") return false
  }
  return true
}

/**
 * A deep copy of plain objects and arrays, so that runs never share the initial state even when a handler
 * mutates what the store gives back. A cycle is copied as a cycle.
 *
 * @internal
 */
export const clonePlain = (u: unknown, seen?: Map<object, unknown>): unknown => {
  if (u === null || typeof u !== "object") return u
  if (seen === undefined) {
    // A flat plain object (the common initial state or input): copied with no map of what was seen.
    if (isPlainObject(u) && isFlat(u)) {
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(u)) define(out, key, (u as Record<string, unknown>)[key])
      return out
    }
    seen = new Map()
  }
  const copied = seen.get(u)
  if (copied !== undefined) return copied
  if (Array.isArray(u)) {
    const out: Array<unknown> = []
    seen.set(u, out)
    for (const item of u) out.push(clonePlain(item, seen))
    return out
  }
  if (!isPlainObject(u)) return u
  const out: Record<string, unknown> = {}
  seen.set(u, out)
  for (const key of Object.keys(u)) define(out, key, clonePlain((u as Record<string, unknown>)[key], seen))
  return out
}

/**
 * The path to the first field of `u` that refers back to an object containing it (e.g. `initialState.self`),
 * or `undefined` when the plain data in `u` has no cycle.
 *
 * @internal
 */
export const cyclePath = (u: unknown, path = "initialState", open: Set<object> = new Set()): string | undefined => {
  if (u === null || typeof u !== "object") return undefined
  if (open.has(u)) return path
  if (!Array.isArray(u) && !isPlainObject(u)) return undefined
  open.add(u)
  const entries: Array<[string, unknown]> = Array.isArray(u)
    ? u.map((v, i) => [`${path}[${i}]`, v])
    : Object.keys(u).map((k) => [`${path}.${k}`, (u as Record<string, unknown>)[k]])
  for (const [at, value] of entries) {
    const found = cyclePath(value, at, open)
    if (found !== undefined) return found
  }
  open.delete(u)
  return undefined
}
