/**
 * Finds the ```ts code blocks of the repository's Markdown (the root README, `docs/*.md`, and each package's
 * README) and turns each into a module that `tsc` checks and Node runs. Used by `docs-snippets.test.ts`.
 *
 * A block is a whole program: its own imports, no names from elsewhere. A marker on the line before the
 * fence (blank lines between are allowed) changes that:
 *
 * - `<!-- snippet: continue -->`: this block goes on from the previous block of the same file (checked and
 *   run with the code of every block before it that it continues), so a guide can build a workflow in steps.
 * - `<!-- snippet: no-run -->`: type-checked, not run (it serves, waits for input, or reads the network).
 * - `<!-- snippet: partial -->`: a fragment (a signature, a line out of context): neither checked nor run.
 *
 * Markers combine: `<!-- snippet: continue no-run -->`.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

/** One ```ts block, ready to check. */
export interface Snippet {
  /** The Markdown file, relative to the repository root. */
  readonly file: string
  /** The 1-based line of the block's first code line in that file. */
  readonly line: number
  /** The module to check: the code of the blocks it continues, then its own. */
  readonly code: string
  /** Where this block's own code starts in `code` (0-based line), to map diagnostics back. */
  readonly offset: number
  readonly run: boolean
  readonly partial: boolean
}

const markerPattern = /^<!--\s*snippet:\s*([a-z\s-]+?)\s*-->$/
const knownMarkers = new Set(["continue", "no-run", "partial"])

/** The Markdown files whose blocks are checked: README.md, docs/*.md, packages/*\/README.md. */
export const markdownFiles = (root: string): ReadonlyArray<string> => {
  const docs = join(root, "docs")
  const packages = join(root, "packages")
  const inDocs = safeList(docs)
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(docs, f))
  const packageReadmes = safeList(packages)
    .map((p) => join(packages, p, "README.md"))
    .filter((f) => safeRead(f) !== undefined)
  return [join(root, "README.md"), ...inDocs.sort(), ...packageReadmes.sort()].map((f) => relative(root, f))
}

const safeList = (dir: string): ReadonlyArray<string> => {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

const safeRead = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** The snippets of one Markdown text. Throws on an unknown marker or an unclosed fence, naming the line. */
export const extract = (file: string, text: string): ReadonlyArray<Snippet> => {
  const lines = text.split("\n")
  const snippets: Array<Snippet> = []
  let previous: string | undefined
  let marker: ReadonlySet<string> = new Set()
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const found = markerPattern.exec(line.trim())
    if (found !== null) {
      const words = found[1]!.split(/\s+/)
      const unknown = words.filter((w) => !knownMarkers.has(w))
      if (unknown.length > 0) {
        throw new Error(`${file}:${i + 1}: unknown snippet marker ${unknown.join(", ")} (known: ${[...knownMarkers]})`)
      }
      marker = new Set(words)
      continue
    }
    const fence = /^(\s*)(```+)(\S*)/.exec(line)
    if (fence === null) {
      if (line.trim() !== "") marker = new Set()
      continue
    }
    const [, indent, ticks, lang] = fence
    const end = lines.findIndex((l, j) => j > i && l.startsWith(`${indent}${ticks}`) && l.trim() === ticks)
    if (end === -1) throw new Error(`${file}:${i + 1}: this code block is never closed`)
    if (lang === "ts" || lang === "typescript") {
      const own = lines
        .slice(i + 1, end)
        .map((l) => l.slice(indent!.length))
        .join("\n")
      const continues = marker.has("continue")
      if (continues && previous === undefined) {
        throw new Error(`${file}:${i + 1}: "snippet: continue" on the first checked block of the file`)
      }
      const before = continues ? `${previous}\n` : ""
      const code = `${before}${own}\n`
      snippets.push({
        file,
        line: i + 2,
        code,
        offset: before === "" ? 0 : before.split("\n").length - 1,
        run: !marker.has("no-run") && !marker.has("partial"),
        partial: marker.has("partial")
      })
      if (!marker.has("partial")) previous = code
    }
    marker = new Set()
    i = end
  }
  return snippets
}

/** Every snippet of the repository. */
export const allSnippets = (root: string): ReadonlyArray<Snippet> =>
  markdownFiles(root).flatMap((file) => extract(file, readFileSync(join(root, file), "utf8")))
